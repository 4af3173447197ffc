"""``python -m bench NAME [--quick] [--db sqlite,postgresql] [--out FILE]``.

NAME: ``ingest`` (1), ``e2e`` (2), ``burst`` (3), ``memory`` (4), or ``profile`` (where the
gateway's time goes, in process).

Prints progress and figures on standard error, writes the full result as JSON (by default to
var/bench/NAME-TIMESTAMP.json) and prints that file's path on standard output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import uvloop

from bench import burst, e2e, ingest, memory, profile, report
from bench.harness import BACKENDS

BENCHMARKS = {"ingest": ingest, "e2e": e2e, "burst": burst, "memory": memory, "profile": profile}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=BENCHMARKS)
    parser.add_argument("--quick", action="store_true", help="tiny parameters (smoke test)")
    parser.add_argument(
        "--db",
        default=",".join(BACKENDS),
        help="comma-separated backends: sqlite, postgresql (default: both)",
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON result")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.db.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown or not args.backends:
        parser.error(f"--db takes {', '.join(BACKENDS)}")
    return args


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen benchmark."""
    module = BENCHMARKS[args.name]
    return await module.run(args.backends, module.QUICK if args.quick else module.Settings())


def main(argv: list[str]) -> None:
    """Run one benchmark and save its result."""
    args = parse_args(argv)
    result = report.start(args.name, argv, {"quick": args.quick, "backends": args.backends})
    result.update(uvloop.run(measure(args)))
    print(report.finish(result, args.out))


if __name__ == "__main__":
    main(sys.argv[1:])
