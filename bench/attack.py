#!/usr/bin/env python3
"""The attacks of issue 13 items 1, 3, 4, 11 and 13, run again against the release binary.

Started by `bench/attack`, which builds the binaries, makes the keys and starts the
service and the FHIR stand-ins on loopback. Every attack is bounded in count and in
seconds, talks only to 127.0.0.0/8, and uses its own source address (127.0.0.N) so the
per-peer failure limit of item 13 never touches the others. Results are printed as a
Markdown table and written to OUT/results.json.

Memory is VmRSS (and VmHWM, the peak) from /proc/PID/status; CPU is utime+stime from
/proc/PID/stat. The service shares its two cores with this script and, on a shared
machine, with whatever else runs: the load average is recorded before each attack.
"""
import argparse
import http.client
import json
import os
import selectors
import socket
import statistics
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SIGN = "/cds-services/omalizumab-order-sign"
SELECT = "/cds-services/omalizumab-order-select"


def status_of(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def rss_mb(pid):
    return int(status_of(pid)["VmRSS"].split()[0]) / 1024


def hwm_mb(pid):
    return int(status_of(pid)["VmHWM"].split()[0]) / 1024


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        after_name = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 (utime, stime); after the name, field 3 is at index 0.
    return (int(after_name[11]) + int(after_name[12])) / CLK_TCK


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Attack:
    def __init__(self, args):
        self.args = args
        self.pid = args.pid
        self.host, port = args.service.split(":")
        self.port = int(port)
        self.results = {}
        with open(args.request) as f:
            self.ready = json.load(f)

    # ---- helpers

    def tokens(self, path, count, forged=False):
        cmd = [self.args.helper, "tokens", "--key", self.args.key, "--kid", self.args.kid,
               "--iss", self.args.iss, "--aud", self.args.public_url + path, "--count", str(count)]
        if forged:
            cmd.append("--forged")
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()

    def connect(self, source, timeout=30):
        s = socket.create_connection((self.host, self.port), timeout=timeout, source_address=(source, 0))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def http(self, source, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout, source_address=(source, 0))

    def metrics_bytes(self):
        c = self.http("127.0.0.1")
        c.request("GET", "/metrics")
        body = c.getresponse().read()
        c.close()
        return len(body)

    def log_lines(self):
        with open(self.args.log, "rb") as f:
            return f.read().count(b"\n")

    def log_since(self, line):
        with open(self.args.log, "rb") as f:
            return f.read().split(b"\n")[line:]

    def post(self, conn, path, token, body):
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        r.read()
        return r.status

    def normal_hooks(self, source, tokens, stop=None, limit=None, every=0.0):
        """Ready order-sign hooks one after another on one connection (one each `every`
        seconds at most); (start, ms, status) each."""
        body = json.dumps(self.ready).encode()
        conn = self.http(source)
        samples = []
        for token in tokens:
            if stop is not None and stop.is_set():
                break
            if limit is not None and len(samples) >= limit:
                break
            t0 = time.monotonic()
            status = self.post(conn, SIGN, token, body)
            samples.append((t0, (time.monotonic() - t0) * 1000, status))
            if every:
                time.sleep(max(0.0, t0 + every - time.monotonic()))
        conn.close()
        return samples

    def settle(self, most=20):
        """Wait until the service's RSS has stopped falling (mimalloc gives memory back late)."""
        last, t0 = rss_mb(self.pid), time.monotonic()
        while time.monotonic() - t0 < most:
            time.sleep(1)
            now = rss_mb(self.pid)
            if abs(now - last) < 0.5:
                return now
            last = now
        return last

    def begin(self, name):
        rss = self.settle()
        # Reset VmHWM to the current RSS, so each attack's peak is its own.
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")
        self.results[name] = r = {"load_before": load(), "started": time.strftime("%H:%M:%S"), "rss_settled_mb": rss}
        print(f"== {name} (load {r['load_before']})", flush=True)
        return r

    def end(self, r):
        r["rss_peak_mb"] = hwm_mb(self.pid)
        print(json.dumps(r), flush=True)

    # ---- item 1: distinct 32 KB methods, no token

    def item1(self, count=2000, size=32 * 1024 - 64, threads=4, budget=120):
        r = self.begin("item1")
        r.update(count=count, method_bytes=size)
        r["rss_before_mb"], r["metrics_before_bytes"] = rss_mb(self.pid), self.metrics_bytes()
        self.methods(r, 0, count, size, threads, budget)
        # A second batch of as many new methods: nothing more may grow.
        self.methods(r, count, count, size, threads, budget, "second_")
        self.end(r)

    def methods(self, r, first, count, size, threads, budget, prefix=""):
        cpu0, t0 = cpu_s(self.pid), time.monotonic()
        statuses, lock, next_i = {}, threading.Lock(), iter(range(first, first + count))
        deadline = t0 + budget

        def worker():
            while time.monotonic() < deadline:
                with lock:
                    i = next(next_i, None)
                if i is None:
                    return
                method = (f"M{i:06d}" + "A" * size)[:size]
                try:
                    s = self.connect("127.0.0.11")
                    s.sendall(f"{method} /cds-services HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    line = s.makefile("rb").readline().split()
                    code = line[1].decode() if len(line) > 1 else "none"
                    s.close()
                except OSError as e:
                    code = type(e).__name__
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1

        ts = [threading.Thread(target=worker) for _ in range(threads)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        r[prefix + "seconds"] = time.monotonic() - t0
        r[prefix + "cpu_s"] = cpu_s(self.pid) - cpu0
        time.sleep(1)
        r[prefix + "rss_after_mb"], r[prefix + "metrics_after_bytes"] = rss_mb(self.pid), self.metrics_bytes()
        r[prefix + "statuses"] = statuses

    # ---- item 3: ~1 MB order-select bodies with many selections

    def big_select(self, n):
        req = json.loads(json.dumps(self.ready))
        req["hook"] = "order-select"
        req["context"]["draftOrders"]["entry"] = [
            {"resource": {"resourceType": "MedicationRequest", "id": f"mr{i}"}} for i in range(n)]
        req["context"]["selections"] = [f"MedicationRequest/x{i}" for i in range(n)]
        return json.dumps(req, separators=(",", ":")).encode()

    def item3(self, count=20, waves=5, baseline=100, budget=120):
        r = self.begin("item3")
        n = 11000
        body = self.big_select(n)
        while len(body) > 1_040_000:
            n -= 200
            body = self.big_select(n)
        r.update(count=count, waves=waves, body_bytes=len(body), orders=n, selections=n)
        # A normal hook's latency first, alone.
        ready = self.normal_hooks("127.0.0.31", self.tokens(SIGN, baseline))
        r["normal_alone_p50_ms"] = statistics.median(ms for _, ms, _ in ready)
        r["normal_alone_statuses"] = sorted({s for _, _, s in ready})
        # CPU per attack request, sent one after another with nothing else running.
        conn = self.http("127.0.0.32")
        cpu0, t0, statuses = cpu_s(self.pid), time.monotonic(), {}
        for token in self.tokens(SELECT, count):
            s = self.post(conn, SELECT, token, body)
            statuses[s] = statuses.get(s, 0) + 1
        conn.close()
        r["sequential_cpu_per_request_ms"] = (cpu_s(self.pid) - cpu0) / count * 1000
        r["sequential_seconds"] = time.monotonic() - t0
        r["sequential_statuses"] = statuses
        # Then `count` at once, `waves` times, with a normal hook timed meanwhile.
        stop, answered, lock = threading.Event(), {}, threading.Lock()
        normal_tokens = self.tokens(SIGN, 3000)
        normal = []
        timer = threading.Thread(target=lambda: normal.extend(self.normal_hooks("127.0.0.33", normal_tokens, stop)))
        timer.start()

        def one(token):
            try:
                c = self.http("127.0.0.34", timeout=budget)
                s = self.post(c, SELECT, token, body)
                c.close()
            except OSError as e:
                s = type(e).__name__
            with lock:
                answered[s] = answered.get(s, 0) + 1

        windows, cpu = [], 0.0
        for _ in range(waves):
            attack_tokens = self.tokens(SELECT, count)
            time.sleep(0.5)
            cpu0, w0 = cpu_s(self.pid), time.monotonic()
            ts = [threading.Thread(target=one, args=(t,)) for t in attack_tokens]
            [t.start() for t in ts]
            [t.join(budget) for t in ts]
            windows.append((w0, time.monotonic()))
            cpu += cpu_s(self.pid) - cpu0
        r["wave_seconds"] = [round(w1 - w0, 3) for w0, w1 in windows]
        r["waves_cpu_s"] = cpu
        time.sleep(0.5)
        stop.set()
        timer.join()
        inside = lambda start: any(w0 <= start <= w1 for w0, w1 in windows)  # noqa: E731
        r["normal_between_p50_ms"] = statistics.median([ms for start, ms, _ in normal if not inside(start)])
        during = [ms for start, ms, _ in normal if inside(start)]
        r["wave_statuses"] = answered
        r["normal_during_count"] = len(during)
        r["normal_during_p50_ms"] = statistics.median(during) if during else None
        r["normal_during_max_ms"] = max(during) if during else None
        r["normal_during_statuses"] = sorted({s for start, _, s in normal if inside(start)})
        self.end(r)

    # ---- item 4: slow bodies

    def item4(self, count=300, declared=1_000_000, every=2.0, budget=60):
        r = self.begin("item4")
        r.update(count=count, declared_bytes=declared, byte_every_s=every)
        tokens = self.tokens(SIGN, count)
        r["rss_before_mb"] = rss_mb(self.pid)
        sel = selectors.DefaultSelector()
        opened, opened_at, t0 = {}, {}, time.monotonic()
        for i, token in enumerate(tokens):
            s = self.connect("127.0.0.41")
            opened_at[i] = time.monotonic()
            s.sendall((f"POST {SIGN} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{").encode())
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
            opened[i] = s
        r["open_seconds"] = time.monotonic() - t0
        cut, statuses, peak, next_byte = {}, {}, 0.0, t0 + every
        while opened and time.monotonic() - t0 < budget:
            for key, _ in sel.select(timeout=0.2):
                s, i = key.fileobj, key.data
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                parts = data.split(b" ", 2)
                code = parts[1].decode() if data.startswith(b"HTTP/") and len(parts) > 1 else "closed"
                if data and b"body-timeout" in data:
                    code += " body-timeout"
                elif data and b"busy" in data:
                    code += " busy"
                statuses[code] = statuses.get(code, 0) + 1
                cut.setdefault(code, []).append(time.monotonic() - opened_at[i])
                sel.unregister(s)
                s.close()
                del opened[i]
            peak = max(peak, rss_mb(self.pid))
            if time.monotonic() >= next_byte:
                next_byte += every
                for i, s in list(opened.items()):
                    try:
                        s.send(b" ")
                    except OSError:
                        pass
        r["still_open_after_budget"] = len(opened)
        for s in opened.values():
            s.close()
        r["statuses"] = statuses
        r["cut_after_s"] = {code: {"min": min(t), "median": statistics.median(t), "max": max(t)}
                            for code, t in cut.items()}
        r["rss_peak_during_mb"] = peak
        r["rss_held_per_connection_kib"] = (peak - r["rss_before_mb"]) * 1024 / count
        time.sleep(1)
        r["rss_after_mb"] = rss_mb(self.pid)
        self.end(r)

    # ---- item 11: a FHIR server sending one huge page, 8 hooks at once

    def item11(self, name, fhir, observations, at_once=8, rounds=3, budget=60):
        r = self.begin(name)
        r.update(observations_in_page=observations, at_once=at_once, rounds=rounds, fhir=fhir)
        req = json.loads(json.dumps(self.ready))
        req.pop("prefetch", None)
        req["fhirServer"] = fhir
        req["fhirAuthorization"] = {"access_token": "attack-token", "token_type": "Bearer",
                                    "expires_in": 300, "scope": "patient/*.read", "subject": "attack"}
        body = json.dumps(req).encode()
        c = http.client.HTTPConnection(fhir.split("/")[2], timeout=30)
        c.request("GET", "/fhir/Observation?patient=x&code=y")
        r["page_bytes"] = len(c.getresponse().read())
        c.close()
        times, statuses, by_status, lock = [], {}, {}, threading.Lock()
        cpu0, t0 = cpu_s(self.pid), time.monotonic()
        for _ in range(rounds):
            if time.monotonic() - t0 > budget:
                break
            tokens = self.tokens(SIGN, at_once)

            def one(token):
                try:
                    conn = self.http("127.0.0.51", timeout=budget)
                    start = time.monotonic()
                    conn.request("POST", SIGN, body=body, headers={
                        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
                    resp = conn.getresponse()
                    text = resp.read()
                    ms = (time.monotonic() - start) * 1000
                    code = str(resp.status)
                    if resp.status != 200:
                        try:
                            why = json.loads(text)["issue"][0]["diagnostics"]
                            code += " " + why[:100]
                        except (ValueError, KeyError, IndexError):
                            pass
                    conn.close()
                except OSError as e:
                    ms, code = None, type(e).__name__
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1
                    if ms is not None:
                        times.append(ms)
                        kind = code[:3] + (" limit" if "CDS_MAX_PREFETCH" in code else
                                           " deadline" if "deadline" in code else "")
                        by_status.setdefault(kind, []).append(ms)

            ts = [threading.Thread(target=one, args=(t,)) for t in tokens]
            [t.start() for t in ts]
            [t.join(budget) for t in ts]
        r["cpu_per_hook_ms"] = (cpu_s(self.pid) - cpu0) / max(1, len(times)) * 1000
        r["statuses"] = statuses
        times.sort()
        r["answer_ms"] = {"min": times[0], "median": statistics.median(times), "max": times[-1]} if times else None
        r["answer_ms_by_status"] = {c: {"min": min(t), "median": statistics.median(t), "max": max(t)}
                                    for c, t in by_status.items()}
        r["over_deadline"] = sum(1 for t in times if t > 450)
        self.end(r)

    # ---- item 13: forged tokens at full speed from one peer

    def item13(self, seconds=20, threads=4):
        r = self.begin("item13")
        forged = self.tokens(SIGN, 1, forged=True)[0]
        body = json.dumps(self.ready).encode()
        r.update(seconds=seconds, threads=threads)
        first_line = self.log_lines()
        statuses, lock = {}, threading.Lock()
        first_429 = {"after": None}
        sent = [0]
        stop_at = time.monotonic() + seconds
        # A valid caller from another address, 50 hooks a second, timed meanwhile.
        normal_tokens = self.tokens(SIGN, 50 * seconds + 50)
        normal, stop = [], threading.Event()
        cpu0, t0 = cpu_s(self.pid), time.monotonic()

        def flood():
            conn = self.http("127.0.0.61")
            while time.monotonic() < stop_at:
                try:
                    s = self.post(conn, SIGN, forged, body)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = self.http("127.0.0.61")
                    s = "error"
                with lock:
                    sent[0] += 1
                    statuses[s] = statuses.get(s, 0) + 1
                    if s == 429 and first_429["after"] is None:
                        first_429["after"] = sent[0]
            conn.close()

        timer = threading.Thread(target=lambda: normal.extend(self.normal_hooks("127.0.0.62", normal_tokens, stop, every=0.02)))
        timer.start()
        ts = [threading.Thread(target=flood) for _ in range(threads)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        elapsed = time.monotonic() - t0
        cpu = cpu_s(self.pid) - cpu0
        stop.set()
        timer.join()
        time.sleep(0.5)
        checks = {}
        for line in self.log_since(first_line):
            try:
                v = json.loads(line)
            except ValueError:
                continue
            msg = v.get("fields", v).get("message", v.get("message", ""))
            if str(msg).startswith("authentication failed"):
                reason = v.get("fields", v).get("reason", v.get("reason", "?"))
                checks[reason] = checks.get(reason, 0) + 1
        r["requests"] = sent[0]
        r["requests_per_s"] = sent[0] / elapsed
        r["statuses"] = statuses
        r["first_429_after_requests"] = first_429["after"]
        r["signature_checks_by_reason"] = checks
        r["service_cpu_s"] = cpu
        r["service_cores_used"] = cpu / elapsed
        ok = [ms for _, ms, s in normal if s == 200]
        r["valid_peer_hooks"] = len(normal)
        r["valid_peer_statuses"] = sorted({s for _, _, s in normal})
        r["valid_peer_p50_ms"] = statistics.median(ok) if ok else None
        self.end(r)


def main():
    p = argparse.ArgumentParser()
    for name in ["service", "pid", "helper", "key", "kid", "iss", "public-url", "request", "log", "fhir-big",
                 "fhir-cap", "out"]:
        p.add_argument("--" + name, required=True)
    p.add_argument("--cap", type=int, required=True)
    p.add_argument("--observations", type=int, required=True)
    args = p.parse_args()
    a = Attack(args)
    a.results["machine"] = {"cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    a.results["rss_idle_mb"] = rss_mb(a.pid)
    a.item1()
    a.item4()
    a.item3()
    a.item11("item11_alone", args.fhir_big, args.observations, at_once=1)
    a.item11("item11", args.fhir_big, args.observations)
    a.item11("item11_at_cap", args.fhir_cap, args.cap)
    a.item13()
    a.results["rss_end_mb"] = rss_mb(a.pid)
    a.results["rss_peak_mb"] = hwm_mb(a.pid)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(a.results, f, indent=2)


if __name__ == "__main__":
    main()
