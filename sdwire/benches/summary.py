#!/usr/bin/env python3
"""Prints derived/hand-written ratios from criterion's saved estimates.

Run the benches first, then this script:

    cargo bench -p sdwire --bench wire -- --noplot
    python3 sdwire/benches/summary.py [target/criterion]

Each benchmark group has a `derived` function and one or more hand-written
baselines (`hand`, `hand_*`); the ratio is derived / baseline on the mean
(the median is shown too). A ratio above 1.05 on the header groups is a
regression of the fixed-offset fast path.
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "target", "criterion")


def estimate(group, func):
    path = os.path.join(root, group, func, "new", "estimates.json")
    try:
        with open(path) as f:
            e = json.load(f)
    except OSError:
        return None
    return e["mean"]["point_estimate"], e["median"]["point_estimate"]


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3f} us"
    return f"{ns:.2f} ns"


if not os.path.isdir(root):
    sys.exit(f"no criterion output in {root}: run `cargo bench -p sdwire --bench wire -- --noplot` first")

rows = []
worst = 0.0
for group in sorted(os.listdir(root)):
    gdir = os.path.join(root, group)
    if not os.path.isdir(gdir) or group == "report":
        continue
    d = estimate(group, "derived")
    if d is None:
        continue
    for func in sorted(os.listdir(gdir)):
        if not func.startswith("hand"):
            continue
        h = estimate(group, func)
        if h is None:
            continue
        ratio = d[0] / h[0]
        if group.startswith("header"):
            worst = max(worst, ratio)
        rows.append((group, func, fmt_ns(d[0]), fmt_ns(h[0]), f"{ratio:.3f}", f"{d[1] / h[1]:.3f}"))

head = ("group", "baseline", "derived mean", "baseline mean", "ratio(mean)", "ratio(median)")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
if worst > 1.05:
    print(f"\nheader path is {worst:.3f}x the hand-written code (> 1.05x)")
