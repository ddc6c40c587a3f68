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


def cpu_us_per_request(who):
    """CPU (user + system) the process used in its saturation run, per answer."""
    with open(os.path.join(out, who + "-saturation.cpu")) as f:
        ticks, per_second = (int(x) for x in f.read().split())
    answers = sum(load(who + "-saturation")["statusCodeDistribution"].values())
    return ticks / per_second * 1e6 / answers


s_cpu, b_cpu = cpu_us_per_request("service"), cpu_us_per_request("baseline")
print(f"\nCPU per answer at saturation (the process alone, not the load generator): service {s_cpu:.0f} µs, "
      f"baseline {b_cpu:.0f} µs; ratio {b_cpu / s_cpu:.2f}")
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

print("\n## (d) cost growth (one connection; 200 hooks each, 50 at 10,000)\n")
print("| input | p50 ms | p99 ms | µs per added resource (p50) |")
print("|---|---|---|---|")
one = row("observations-1")[1]
chart = row("orders-1")[1]  # the chart's own request: its observations, one order
for n in [1, 10, 100, 1000, 10000]:
    r = row(f"observations-{n}")
    per = f"{(r[1] - one) / (n - 1) * 1e6:.1f}" if n > 1 else ""
    print(f"| {n:,} Observations in prefetch | {ms(r[1])} | {ms(r[2])} | {per} |")
for n in [10, 100, 1000, 10000]:
    r = row(f"unrelated-{n}")
    print(f"| the chart's Observations plus {n:,} the rules never read (vital signs) | {ms(r[1])} | {ms(r[2])} "
          f"| {(r[1] - chart) / n * 1e6:.1f} |")
for m in [1, 10, 100, 1000]:
    r = row(f"orders-{m}")
    print(f"| {m:,} orders in draftOrders | {ms(r[1])} | {ms(r[2])} | |")
print("\nµs per added resource: the p50's rise over 1 Observation (reads) or over the chart's own request "
      "(skipped), divided by the resources added.")
for name in [f"observations-{n}" for n in [1, 10, 100, 1000, 10000]] + [f"unrelated-{n}" for n in [10, 100, 1000, 10000]]:
    if row(name)[4]:
        print(f"\nwarning: {name}: {row(name)[4]} responses were not 200")


def fmt(v):
    return "" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def load_table(name):
    d = load(name)
    o = d["overall"]
    print(f"{d['hooks']:,} hooks, {d['concurrency']} in flight, {d['seconds']:.1f} s: "
          f"{d['hooks_per_sec']:.1f} hooks/s; p50 {fmt(o['p50_ms'])} ms, p99 {fmt(o['p99_ms'])} ms, "
          f"max {fmt(o['max_ms'])} ms\n")
    print("| answer | hooks | share | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for cls, c in d["classes"].items():
        if c["count"] or cls in ("full", "partial", "412"):
            print(f"| {cls} | {c['count']:,} | {c['share'] * 100:.1f}% | {fmt(c['p50_ms'])} | {fmt(c['p99_ms'])} "
                  f"| {fmt(c['max_ms'])} |")
    if d["unfetched_keys"]:
        keys = ", ".join(f"{k} {v}" for k, v in sorted(d["unfetched_keys"].items(), key=lambda kv: -kv[1]))
        print(f"\nKeys listed as unfetched (hooks): {keys}.")


print("\n## (f) fetch mode, default settings, FHIR stand-in with lognormal latency\n")
print("Each read and search waits a lognormal delay (median 300 ms, p99 1.5 s), or 5 s for 1 in 50; "
      "the service's deadline is 2.5 s, its FHIR budget 2 s.\n")
load_table("lognormal")

print("\n## (g) fetch mode, default settings, the real test FHIR server holding >= 200 charts\n")
for c in [1, 8, 16]:
    print(f"### {c} in flight\n")
    load_table(f"real-c{c}")
    print()
