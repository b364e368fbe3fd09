"""Print the README's Reliability table from the figures the suites recorded.

Run the suites first (``make soak`` for the long versions, ``make test`` for the
short ones); each writes ``tests/output/reliability/<suite>.<mode>.json``.

    python bench/reliability_table.py [--mode soak|ci]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "output" / "reliability"
STANDARD = ("suite", "mode", "cases", "lost", "duplicated", "server_errors", "command")


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table: suite, cases tried, losses, duplicates, server errors, other figures, command.

    >>> print(table([{"suite": "Crash loop", "mode": "ci", "cases": 20, "lost": 0, "duplicated": 0,
    ...               "server_errors": 0, "command": "make soak", "kills": 20}]))
    | Suite | Cases tried | Lost | Duplicated | Server errors | Other figures | Reproduce with |
    |---|---:|---:|---:|---:|---|---|
    | Crash loop | 20 | 0 | 0 | 0 | kills 20 | `make soak` |
    """
    lines = ["| Suite | Cases tried | Lost | Duplicated | Server errors | Other figures | Reproduce with |",
             "|---|---:|---:|---:|---:|---|---|"]
    for row in rows:
        other = ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int) and k != "seed" else f"{k.replace('_', ' ')} {v}"
                          for k, v in row.items() if k not in STANDARD and not isinstance(v, (dict, list)))
        lines.append(f"| {row['suite']} | {row['cases']:,} | {row['lost']} | {row['duplicated']} | "
                     f"{row['server_errors']} | {other} | `{row['command']}` |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("soak", "ci"), default="soak")
    parser.add_argument("--figures", type=Path, default=OUTPUT, help="the folder of recorded figures")
    args = parser.parse_args()
    rows = [json.loads(path.read_text()) for path in sorted(args.figures.glob(f"*.{args.mode}.json"))]
    if not rows:
        raise SystemExit(f"no figures in {args.figures} for mode {args.mode}: run `make soak` (or `make test`) first")
    print(table(rows))


if __name__ == "__main__":
    main()
