#!/usr/bin/env python3
"""Turns sched_bench's JSON output into the Markdown tables of bench/README.md.

usage: sched_table.py RESULTS.json

With --benchmark_repetitions=N the medians are used, otherwise the single runs.
"""
import json
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}  # scheduler -> {(size, threads): benchmark}
    order = []
    medians = any(b.get("aggregate_name") == "median" for b in data["benchmarks"])
    for b in data["benchmarks"]:
        if medians != (b.get("aggregate_name") == "median"):
            continue
        parts = b["run_name"].split("/")  # Pick/NAME/SIZE/real_time/threads:T
        name, size, threads = parts[1], int(parts[2]), int(parts[-1].split(":")[1])
        if name not in rows:
            rows[name] = {}
            order.append(name)
        rows[name][(size, threads)] = b
    sizes = sorted({s for r in rows.values() for s, _ in r})

    def ns(b):  # wall ns per pick over all threads = 1e9 / aggregate rate
        return 1e9 / b["items_per_second"]

    def fmt(x):
        return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"

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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    main(sys.argv[1])
