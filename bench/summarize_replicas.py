#!/usr/bin/env python3
"""Summarise bench/replicas' oha JSON: three PostgreSQL replicas beside one SQLite replica.

    summarize_replicas.py OUT_DIR PORT...

The replicas' hooks/s are summed. Their p99 is the slowest replica's: the p99 of all
three runs pooled can be no higher than that (each run has at most 1% of its answers
above its own p99), so it is an upper bound, not an estimate."""
import json
import os
import sys

out, ports = sys.argv[1], sys.argv[2:]


def load(name):
    with open(os.path.join(out, name + ".json")) as f:
        d = json.load(f)
    codes = d.get("statusCodeDistribution", {})
    return {
        "rps": d["summary"]["requestsPerSec"],
        "p50": d["latencyPercentiles"]["p50"],
        "p99": d["latencyPercentiles"]["p99"],
        "ok": codes.get("200", 0),
        "other": sum(v for k, v in codes.items() if k != "200"),
        # Requests oha dropped when its timer ran out; the service may have answered them.
        "cut": sum(d.get("errorDistribution", {}).values()),
    }


def ms(seconds):
    return f"{seconds * 1000:.2f}"


def rows(name):
    with open(os.path.join(out, name)) as f:
        return int(f.read().strip())


print("## Three replicas on one PostgreSQL beside one replica on SQLite\n")
print("| run | store | replicas | hooks/s | p50 ms | p99 ms | non-200 |")
print("|---|---|---|---|---|---|---|")
answered = {"sqlite": 0, "pg": 0}
cut = {"sqlite": 0, "pg": 0}
for run in ["warmup", "saturation", "rate-1500"]:
    s = load(f"sqlite-{run}")
    answered["sqlite"] += s["ok"]
    cut["sqlite"] += s["cut"]
    reps = [load(f"pg-{run}-{p}") for p in ports]
    answered["pg"] += sum(r["ok"] for r in reps)
    cut["pg"] += sum(r["cut"] for r in reps)
    if run == "warmup":
        continue
    print(f"| {run} | SQLite | 1 | {s['rps']:.0f} | {ms(s['p50'])} | {ms(s['p99'])} | {s['other']} |")
    p50s = "/".join(ms(r["p50"]) for r in reps)
    print(
        f"| {run} | PostgreSQL | {len(reps)} | {sum(r['rps'] for r in reps):.0f} | {p50s} "
        f"| {ms(max(r['p99'] for r in reps))} (slowest replica) | {sum(r['other'] for r in reps)} |"
    )

print("\nPostgreSQL p50 is given per replica. Decisions recorded, against the hooks answered 200")
print("(plus those still in flight when oha's timer stopped, which the service may have answered):\n")
for store, file in [("sqlite", "replicas-sqlite-rows.txt"), ("pg", "replicas-pg-rows.txt")]:
    n, ok, extra = rows(file), answered[store], cut[store]
    verdict = "none lost" if ok <= n <= ok + extra else "MISMATCH"
    print(f"- {store}: {n} rows for {ok} answers + {extra} cut off: {verdict}")
