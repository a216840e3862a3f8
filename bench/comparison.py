"""The side-by-side table the benchmark scripts print: ours, the reference, and their ratio."""

from __future__ import annotations


def print_comparison(title: str, ours: dict[str, float], theirs: dict[str, float] | None) -> None:
    width = max(len(title), *(len(name) for name in ours))
    header = f"{title:<{width}} {'ours':>10}"
    if theirs:
        header += f" {'reference':>10} {'ours/ref':>9}"
    print(header)
    for name, value in ours.items():
        row = f"{name:<{width}} {value:>10.1f}"
        if theirs:
            row += f" {theirs[name]:>10.1f} {value / theirs[name]:>9.2f}"
        print(row)
