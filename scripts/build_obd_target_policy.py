"""Build the OBD target policies: the Bernoulli-TS logs' share of each item at each position.

For each campaign (all, men, women) this reads ``bts/<campaign>/<campaign>.csv`` of the Open
Bandit Dataset sample, counts the rows showing each item at each position, normalizes per
position, and writes ``configs/ope/obd_bts_<campaign>.csv`` (``action,position,probability``;
every item of the campaign's ``item_context.csv`` is listed, unseen pairs with probability 0).

Usage::

    python scripts/build_obd_target_policy.py [--data ../shared/data/obd] [--out configs/ope]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from allocator.backtest.logged_feedback import LogFormat, read_logs
from allocator.backtest.target_policy import target_policy_from_logs, write_target_policy
from allocator.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = ("all", "men", "women")


def build(data: Path, out: Path) -> list[Path]:
    """Write one target CSV per campaign under ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for campaign in CAMPAIGNS:
        folder = data / "bts" / campaign
        logs = read_logs(folder / f"{campaign}.csv", log_format=LogFormat.OBD)
        items = pd.read_csv(folder / "item_context.csv", usecols=["item_id"])["item_id"]
        policy = target_policy_from_logs(logs, actions=[str(i) for i in items])
        path = out / f"obd_bts_{campaign}.csv"
        write_target_policy(policy, path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "obd")
    parser.add_argument("--out", type=Path, default=ROOT / "configs" / "ope")
    args = parser.parse_args(argv)
    try:
        for path in build(args.data, args.out):
            print(path)
    except DataError as exc:
        print(f"build_obd_target_policy: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
