"""``python -m allocator.bench NAME [options]``: run one benchmark (see README)."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "bernoulli": "allocator.bench.bernoulli_pulls",
    "engine": "allocator.bench.engine_step",
    "report": "allocator.bench.report_open",
    "sim": "allocator.bench.sim_throughput",
    "startup": "allocator.bench.startup",
}


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the named benchmark; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m allocator.bench", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for smoke tests")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    module = importlib.import_module(BENCHMARKS[args.name])
    module.run(quick=args.quick, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
