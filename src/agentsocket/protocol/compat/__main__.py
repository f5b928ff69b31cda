"""``python -m agentsocket.protocol.compat check|snapshot``: the gate without the CLI stack.

The same commands as ``agentsocket schema check`` and ``agentsocket schema
snapshot``, for CI jobs and tests that import only the protocol package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentsocket.protocol.compat.commands import run_check, run_snapshot
from agentsocket.protocol.compat.rules import Mode
from agentsocket.protocol.compat.snapshots import SNAPSHOT_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentsocket.protocol.compat")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="compare today's models with the snapshots")
    check.add_argument("--mode", choices=[m.value for m in Mode], default=None)
    check.add_argument("--snapshots", type=Path, default=SNAPSHOT_DIR)
    check.add_argument("--format", choices=["text", "json"], default="text")
    snapshot = commands.add_parser("snapshot", help="show or store the snapshots")
    snapshot.add_argument("--snapshots", type=Path, default=SNAPSHOT_DIR)
    snapshot.add_argument("--write", action="store_true")
    snapshot.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "check":
        mode = None if args.mode is None else Mode(args.mode)
        code, text = run_check(args.snapshots, mode, args.format == "json")
    else:
        code, text = run_snapshot(args.snapshots, args.write, args.force)
    (sys.stdout if code == 0 or args.command == "check" else sys.stderr).write(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
