#!/usr/bin/env python3
"""Turns sched_bench's JSON output into the Markdown tables of bench/README.md.

usage: sched_table.py RESULTS.json [BASELINE.json]

With --benchmark_repetitions=N the medians are used, otherwise the single runs
(or, for runs repeated in several files, pass the one to show). With a
BASELINE (the same benchmarks built from an older tree), the PickContended,
PickWhileUpdating and LocalityFlood tables show "baseline -> results".
"""
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    medians = any(b.get("aggregate_name") == "median" for b in data["benchmarks"])
    out = {}
    for b in data["benchmarks"]:
        if medians != (b.get("aggregate_name") == "median"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        out[b["run_name"]] = b
    return out


def ns(b):  # wall ns per pick over all threads = 1e9 / aggregate rate
    return 1e9 / b["items_per_second"]


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def pick_tables(runs):
    rows = {}  # scheduler -> {(size, threads): benchmark}
    order = []
    for run_name, b in runs.items():
        parts = run_name.split("/")  # Pick/NAME/SIZE/real_time/threads:T
        if parts[0] != "Pick":
            continue
        name, size, threads = parts[1], int(parts[2]), int(parts[-1].split(":")[1])
        if name not in rows:
            rows[name] = {}
            order.append(name)
        rows[name][(size, threads)] = b
    if not rows:
        return
    sizes = sorted({s for r in rows.values() for s, _ in r})
    head = "| scheduler | " + " | ".join(f"{s} servers" for s in sizes) + " |"
    rule = "|---|" + "---:|" * len(sizes)
    print("ns per pick, 1 thread / 2 threads (wall time divided by all picks made):\n")
    print(head)
    print(rule)
    for name in order:
        cells = []
        for s in sizes:
            one, two = rows[name].get((s, 1)), rows[name].get((s, 2))
            cells.append(" / ".join(fmt(ns(b)) if b else "-" for b in (one, two)))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nCPU ns per pick, 1 thread (less disturbed by other load on the machine):\n")
    print(head)
    print(rule)
    for name in order:
        cells = [fmt(rows[name][(s, 1)]["cpu_time"]) if (s, 1) in rows[name] else "-"
                 for s in sizes]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nMemory: heap bytes per server for the whole service / scheduler state in bytes:\n")
    print(head)
    print(rule)
    for name in order:
        cells = []
        for s in sizes:
            b = rows[name].get((s, 1))
            cells.append(f"{b['B/server']:,.0f} / {b['sched_B']:,.0f}" if b else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")


def arrow(before, after, key, f=fmt):
    a = f(key(after)) if after else "-"
    if before is None:
        return a
    return (f(key(before)) if before else "-") + " → " + a


def other_tables(runs, base):
    def get(src, name):
        return src.get(name) if src is not None else None

    names = [n for n in runs if n.startswith("PickContended/")]
    if names:
        print("\nPickContended (64 servers): wall ns per pick over all threads, CPU ns per pick:\n")
        print("| scheduler | threads | wall ns | CPU ns |")
        print("|---|---:|---:|---:|")
        for n in names:
            parts = n.split("/")
            b, o = runs[n], get(base, n)
            print(f"| {parts[1]} | {parts[-1].split(':')[1]} | {arrow(o, b, ns)} | "
                  f"{arrow(o, b, lambda x: x['cpu_time'])} |")
    names = [n for n in runs if n.startswith("PickWhileUpdating/")]
    if names:
        print("\nPickWhileUpdating: one thread picks while another changes the service:\n")
        print("| scheduler | servers | change | ns per pick | p99 us | p99.9 us | longest pick, us "
              "| updates/s |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for n in names:
            parts = n.split("/")
            b, o = runs[n], get(base, n)
            kind = "weight" if parts[3] == "0" else "remove+add"
            print(f"| {parts[1]} | {parts[2]} | {kind} | {arrow(o, b, ns)} | "
                  f"{arrow(o, b, lambda x: x['p99_us'])} | "
                  f"{arrow(o, b, lambda x: x['p999_us'])} | "
                  f"{arrow(o, b, lambda x: x['max_us'])} | {arrow(o, b, lambda x: x['upd/s'])} |")
    names = [n for n in runs if n.startswith("LocalityFlood/")]
    if names:
        print("\nLocalityFlood: distinct destinations, 1 ms apart, default options:\n")
        print("| scheduler | destinations | remembered | table bytes | bytes per entry |")
        print("|---|---:|---:|---:|---:|")
        for n in names:
            parts = n.split("/")
            b, o = runs[n], get(base, n)
            print(f"| {parts[1]} | {int(parts[2]):,} | {arrow(o, b, lambda x: x['entries'])} | "
                  f"{arrow(o, b, lambda x: x['table_B'])} | "
                  f"{arrow(o, b, lambda x: x['B/entry'])} |")


def main(path, base_path=None):
    runs = load(path)
    base = load(base_path) if base_path else None
    pick_tables(runs)
    other_tables(runs, base)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip())
    main(*sys.argv[1:])
