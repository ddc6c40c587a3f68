// Discovery, cards and every kind of error answer checked against a JSON Schema of the
// CDS Hooks 2.0.1 shapes (cds-hooks.schema.json, validated with ajv), against the real
// service binary (CDS_AUTH=none, a free port), for every fixture scenario.
//
//   OMALIZUMAB_CDS_BIN   the service binary (required)
//
// Exits non-zero on the first answer that does not conform, naming it and the schema error.
import { readdirSync, existsSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { startService } from "./service.mjs";
import Ajv from "ajv";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = process.env.OMALIZUMAB_CDS_BIN;
assert.ok(bin && existsSync(bin), `OMALIZUMAB_CDS_BIN must name the service binary (got ${bin})`);

// Strict about unknown keywords and types; `required` inside if/then names properties
// defined beside it, which strictRequired cannot see.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
ajv.addSchema(JSON.parse(readFileSync(join(root, "tests/browser/cds-hooks.schema.json"), "utf8")));
const schema = (name) => ajv.getSchema(`urn:omalizumab-cds:test:cds-hooks-schema#/$defs/${name}`);

function conforms(name, value, what) {
  const validate = schema(name);
  assert.ok(validate(value), `${what} is not a CDS Hooks ${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
}

const { child, base } = await startService(bin, root, { CDS_CORS_ORIGINS: "https://sandbox.example" });
let checked = 0;
try {
  const discovery = await (await fetch(`${base}/cds-services`)).json();
  conforms("discovery", discovery, "GET /cds-services");
  checked++;

  const dir = join(root, "fixtures", "scenarios");
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, "hook-request.json");
    if (!existsSync(file)) continue;
    const resp = await fetch(`${base}/cds-services/omalizumab-order-sign`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: readFileSync(file),
    });
    assert.equal(resp.status, 200, `${name}: HTTP ${resp.status}`);
    conforms("response", await resp.json(), `${name}'s answer`);
    checked++;
  }

  // Every kind of refusal is an OperationOutcome (requirement 8, [3.0]).
  const errors = [
    ["an unknown service", `${base}/cds-services/nope`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }, 404],
    ["a body that is not JSON", `${base}/cds-services/omalizumab-order-sign`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" }, 400],
    ["a wrong hook", `${base}/cds-services/omalizumab-order-sign`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ hook: "patient-view", hookInstance: "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", context: {} }) }, 400],
    ["a refused CORS preflight", `${base}/cds-services`, { method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" } }, 400],
    ["an unknown path", `${base}/nothing-here`, { method: "GET" }, 404],
  ];
  for (const [what, url, init, status] of errors) {
    const resp = await fetch(url, init);
    assert.equal(resp.status, status, `${what}: HTTP ${resp.status}`);
    conforms("operationOutcome", await resp.json(), what);
    checked++;
  }
  console.log(`${checked} answers conform to the CDS Hooks schema`);
} finally {
  child.kill("SIGKILL");
}
