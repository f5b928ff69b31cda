"""Print a saved run's table again, and redraw its PNG, optionally beside an earlier run.

Run from the project root::

    .venv/bin/python benchmarks/show.py push RUN.json [--plot OUT.png] [--before EARLIER.json]
    .venv/bin/python benchmarks/show.py pingpong RUN.json [--before EARLIER.json]
    .venv/bin/python benchmarks/show.py idle RUN.json [--plot OUT.png] [--before EARLIER.json]

``RUN.json`` is what a benchmark wrote with ``--json``. With ``--before``,
agentsocket's figures of the earlier run are compared (CPU per message; KB
per connection for idle) and drawn in grey: a "before / after" picture from
two saved runs, without running anything again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import plots, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("benchmark", choices=["push", "pingpong", "idle"])
    parser.add_argument("run", type=Path, help="the --json file of a run")
    parser.add_argument("--plot", type=Path, help="the PNG to write (push, idle)")
    parser.add_argument("--before", type=Path, help="an earlier run's --json")
    args = parser.parse_args(argv)
    header, results = report.load_results(args.run)
    before = report.load_before(args.before)
    tables = {
        "push": report.push_table,
        "pingpong": report.pingpong_table,
        "idle": report.idle_table,
    }
    print("\n".join(header))
    print(tables[args.benchmark](results))
    if before:
        print(report.before_lines(results, before))
    if args.plot and args.benchmark == "push":
        plots.push_plot(args.plot, results, header, before)
    elif args.plot and args.benchmark == "idle":
        plots.idle_plot(args.plot, results, header, before)
    elif args.plot:
        parser.error("only push and idle have a plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
