"""Two sweeps' outputs cell by cell: ``python -m tests.sweeps.compare OLD.json NEW.json``.

Per K of every row both have: identical, within 1e-6 relative (``close``), higher or lower in
NEW; rows whose K was refused or failed in one only; and, in NEW, every K of a grid that ends
below the K - 1 before it by more than 1e-6 relative (a mixture of K - 1 is one of K)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

RTOL = 1e-6


def load(path: str) -> dict[tuple, dict]:
    return {tuple(row["key"]): row for row in json.loads(Path(path).read_text())}


def drops(row: dict) -> list[tuple[int, float, float]]:
    ll = {int(k): v for k, v in row.get("ll", {}).items() if v is not None}
    return [
        (k, ll[k - 1], ll[k])
        for k in sorted(ll)
        if k - 1 in ll and ll[k] < ll[k - 1] - RTOL * abs(ll[k - 1])
    ]


def main(argv: list[str]) -> Counter:
    old, new = load(argv[0]), load(argv[1])
    counts: Counter = Counter()
    for key in sorted(old.keys() & new.keys(), key=str):
        a, b = old[key], new[key]
        if "ll" not in a or "ll" not in b:
            if a.get("error") != b.get("error"):
                counts["status changed"] += 1
                print("status", key, a.get("error", "ok"), "->", b.get("error", "ok"))
            continue
        for k in a["ll"].keys() & b["ll"].keys():
            x, y = a["ll"][k], b["ll"][k]
            if x is None or y is None:
                if (x is None) != (y is None):
                    counts["status changed"] += 1
                    print("status", key, "K", k, x, "->", y)
                continue
            if x == y:
                counts["identical"] += 1
            elif abs(y - x) <= RTOL * max(1.0, abs(x)):
                counts["close"] += 1
            else:
                counts["higher" if y > x else "lower"] += 1
                print("higher" if y > x else "LOWER", key, "K", k, f"{x:.4f} -> {y:.4f}")
    for key, row in new.items():
        for k, before, after in drops(row):
            counts["below K-1"] += 1
            print("below K-1", key, "K", k, f"{before:.4f} > {after:.4f}")
    print(dict(counts))
    return counts


if __name__ == "__main__":
    main(sys.argv[1:])
