#!/usr/bin/env python3
"""Summarise bench/out/*.json (oha's JSON output) as the tables of docs/PERFORMANCE.md."""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "bench/out"


def load(name):
    with open(os.path.join(out, name + ".json")) as f:
        return json.load(f)


def ms(seconds):
    return f"{seconds * 1000:.2f}"


def row(name):
    d = load(name)
    s, p = d["summary"], d["latencyPercentiles"]
    codes = d.get("statusCodeDistribution", {})
    ok = codes.get("200", 0)
    other = sum(v for k, v in codes.items() if k != "200")
    return s["requestsPerSec"], p["p50"], p["p99"], ok, other


print("## (a) prefetch-complete order-sign hooks\n")
print("| run | service req/s | service p50 ms | service p99 ms | baseline req/s | baseline p50 ms | baseline p99 ms | throughput ratio |")
print("|---|---|---|---|---|---|---|---|")
for run in ["saturation", "rate-500", "rate-2000"]:
    s = row("service-" + run)
    b = row("baseline-" + run)
    print(f"| {run} | {s[0]:.0f} | {ms(s[1])} | {ms(s[2])} | {b[0]:.0f} | {ms(b[1])} | {ms(b[2])} | {s[0] / b[0]:.2f} |")
for run in ["saturation", "rate-500", "rate-2000"]:
    for who in ["service", "baseline"]:
        r = row(f"{who}-{run}")
        if r[4]:
            print(f"\nwarning: {who}-{run}: {r[4]} responses were not 200")

print("\n## (b) fetch mode, FHIR server answering each call after 20 ms\n")
print("| connections | req/s | p50 ms | p99 ms | p99 / 20 ms |")
print("|---|---|---|---|---|")
for c in ["c1", "c20"]:
    r = row("fetch-" + c)
    print(f"| {c[1:]} | {r[0]:.0f} | {ms(r[1])} | {ms(r[2])} | {r[2] / 0.020:.2f} |")

print("\n## (c) memory with 200 concurrent connections\n")
with open(os.path.join(out, "rss.txt")) as f:
    for line in f:
        key, value = line.split(":", 1)
        print(f"- {key}: {int(value.split()[0]) / 1024:.1f} MB")
r = row("rss-c200")
print(f"- during that run: {r[0]:.0f} req/s, p99 {ms(r[2])} ms")

print("\n## (d) cost growth (one connection, 200 hooks each)\n")
print("| input | p50 ms | p99 ms |")
print("|---|---|---|")
for n in [1, 10, 100, 1000]:
    r = row(f"observations-{n}")
    print(f"| {n} Observations in prefetch | {ms(r[1])} | {ms(r[2])} |")
for n in [10, 100, 1000]:
    r = row(f"unrelated-{n}")
    print(f"| the chart's Observations plus {n} the rules never read (vital signs) | {ms(r[1])} | {ms(r[2])} |")
for m in [1, 10, 100, 1000]:
    r = row(f"orders-{m}")
    print(f"| {m} orders in draftOrders | {ms(r[1])} | {ms(r[2])} |")
