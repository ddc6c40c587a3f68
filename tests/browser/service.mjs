// The service binary started for the Node tests: CDS_AUTH=none, an in-memory store, on a
// port it picks itself; its JSON "listening" log line says which. Resolves to
// { child, base } once it listens, rejects (with what it printed) if it exits or takes 30 s.
import { spawn } from "node:child_process";
import { join } from "node:path";

export function startService(bin, root, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve"], {
      env: {
        PATH: process.env.PATH,
        CDS_AUTH: "none",
        CDS_BIND: "127.0.0.1:0",
        CDS_STORE_PATH: ":memory:",
        CDS_CARDS_DIR: join(root, "cards"),
        CDS_LOG_FORMAT: "json",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${seen}`)), 30000);
    const read = (chunk) => {
      seen += chunk;
      for (const line of seen.split("\n")) {
        try {
          const entry = JSON.parse(line);
          const port = entry.message === "omalizumab-cds listening" && (entry.port ?? entry.fields?.port);
          if (port) {
            clearTimeout(timer);
            resolve({ child, base: `http://127.0.0.1:${port}` });
          }
        } catch {}
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => reject(new Error(`the service exited (${code}):\n${seen}`)));
  });
}
