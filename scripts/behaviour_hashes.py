"""Hashes of the project's observable behaviour, to show a refactor changed nothing.

Prints one line per artefact, ``name sha256``:

* ``plan:example``: ``allocator rebalance --json`` on ``configs/example`` as of 2026-11-20;
* ``plan:random-NN``: the same on 20 seeded random portfolios (files platform);
* ``sim:<study>``: ``results.csv`` of studies (a)-(d) rerun into a temporary folder
  (``--with-e`` adds study (e), whose MABWiser curves come from its cache);
* ``demo:edits``: the sandbox's edit log of a 30-day demo (seed 7) with the calendar pinned
  to 2026-12-01 (edit wall-clock times left out), and ``demo:result`` its printed figures.

Each plan is hashed twice: whole, and without ``run_id`` (a fingerprint of the inputs and
settings, which a settings refactor may legitimately re-spell).

Run from the repository root: ``.venv/bin/python scripts/behaviour_hashes.py [--skip-sim]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ALLOCATOR = str(Path(sys.executable).parent / "allocator")
STUDIES = ("a_spark_vs_dark", "b_always_on", "c_auth_churn", "d_cold_start")
AS_OF = date(2026, 11, 20)
DEMO_DAY = date(2026, 12, 1)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _plan_hashes(config: Path, name: str) -> list[str]:
    done = subprocess.run(
        [ALLOCATOR, "rebalance", "--config", str(config), "--as-of", AS_OF.isoformat(), "--json"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return [f"plan:{name} exit={done.returncode} {_sha(done.stderr)}"]
    plan: dict[str, Any] = json.loads(done.stdout)
    whole = _sha(json.dumps(plan, sort_keys=True).encode())
    plan.pop("run_id", None)
    bare = _sha(json.dumps(plan, sort_keys=True).encode())
    return [f"plan:{name} {whole}", f"plan:{name}:no-run-id {bare}"]


def _random_portfolio(folder: Path, seed: int) -> Path:
    """Write a seeded random account (files platform) into ``folder``; its job.toml."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 16))
    rows = ["adgroup_id,kind,creator,concept,post_id,auth_status,auth_expires_at,budget,status"]
    statuses = ("active", "active", "active", "expired", "revoked")
    for i in range(k):
        spark = bool(rng.random() < 0.6)
        auth = statuses[int(rng.integers(len(statuses)))] if spark else "none"
        days = float(rng.uniform(-3, 40))
        expires = (AS_OF + timedelta(days=days)).isoformat() + "T00:00:00+00:00" if spark else ""
        post = str(7420000000000000000 + i) if spark else ""
        status = "enable" if rng.random() < 0.85 else "disable"
        budget = round(float(rng.uniform(25, 300)), 2)
        creator = f"@c{int(rng.integers(4))}"
        kind = "spark" if spark else "dark"
        rows.append(f"{9000 + i},{kind},{creator},k{i},{post},{auth},{expires},{budget},{status}")
    (folder / "adgroups.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    obs = ["date,adgroup_id,spend,impressions,clicks,conversions,value"]
    n_days = int(rng.integers(3, 31))
    cpa = rng.uniform(12, 60, size=k)
    for d in range(n_days, 0, -1):
        day = (AS_OF - timedelta(days=d)).isoformat()
        for i in range(k):
            spend = round(float(rng.uniform(10, 250)), 2)
            imps = int(spend * rng.uniform(80, 120))
            clicks = int(imps * rng.uniform(0.005, 0.015))
            conv = min(int(rng.poisson(spend / cpa[i])), clicks)
            value = round(conv * float(rng.uniform(30, 60)), 2)
            obs.append(f"{day},{9000 + i},{spend},{imps},{clicks},{conv},{value}")
    (folder / "observations.csv").write_text("\n".join(obs) + "\n", encoding="utf-8")
    budget = round(float(rng.uniform(200, 3000)), 2)
    target = round(float(rng.uniform(15, 45)), 2)
    (folder / "job.toml").write_text(
        f'[account]\nname = "r{seed}"\ncurrency = "USD"\ndaily_budget = {budget}\n'
        f'objective = "cpa"\ntarget_cpa = {target}\ntimezone = "UTC"\n\n'
        '[platform]\nkind = "files"\nadgroups = "adgroups.csv"\n'
        'observations = "observations.csv"\n\n[engine]\nn_draws = 400\n'
        f"seed = {seed}\n",
        encoding="utf-8",
    )
    return folder / "job.toml"


def _sim_hashes(with_e: bool) -> list[str]:
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for study in STUDIES:
            target = Path(tmp) / study
            cmd = [ALLOCATOR, "simulate", str(ROOT / "simulations" / study / "experiment.toml")]
            cmd += ["--out", str(target), "--workers", "2"]
            done = subprocess.run(cmd, capture_output=True, check=False)
            if done.returncode != 0:
                out.append(f"sim:{study} exit={done.returncode}")
                continue
            out.append(f"sim:{study} {_sha((target / 'results.csv').read_bytes())}")
        if with_e:
            target = Path(tmp) / "e"
            shutil.copytree(ROOT / "simulations" / "e_bernoulli", target)
            cmd = [sys.executable, "-m", "allocator.sim.bernoulli", "--out", str(target)]
            cmd += ["--seeds", "20", "--horizon", "100000", "--workers", "2"]
            subprocess.run(cmd, capture_output=True, check=True)
            out.append(f"sim:e_bernoulli {_sha((target / 'results.csv').read_bytes())}")
    return out


_DEMO = """
import json, sys, datetime as dt
import allocator.platform.sandbox as sandbox
made = []
real = sandbox.create_sandbox
def spy(*a, **k):
    api = real(*a, **k)
    made.append(api)
    return api
sandbox.create_sandbox = spy
class Pinned(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return dt.datetime(2026, 12, 1, 12, 0, tzinfo=tz)
import allocator.job.sandbox_demo as demo
for mod in list(sys.modules.values()):
    ours = getattr(mod, "__name__", "").startswith("allocator")
    if ours and getattr(mod, "datetime", None) is dt.datetime:
        mod.datetime = Pinned
    if getattr(mod, "create_sandbox", None) is real:
        mod.create_sandbox = spy
res = demo.run_demo(days=30, seed=7)
edits = [dict(e.to_json(), time=None) for e in made[0].account.edits]
days = [[d.day.isoformat(), sorted(d.budgets.items()), d.exit_code, d.outcome] for d in res.days]
print(json.dumps({"edits": edits, "days": days, "alerts": [str(a) for a in res.alerts],
                  "n_edits": res.n_edits, "n_store": res.n_store_changes},
                 sort_keys=True, default=str))
"""


def _demo_hashes() -> list[str]:
    done = subprocess.run([sys.executable, "-c", _DEMO], capture_output=True, check=False)
    if done.returncode != 0:
        return [f"demo:error {done.stderr.decode()[-400:]!r}"]
    data = json.loads(done.stdout)
    edits = _sha(json.dumps(data["edits"], sort_keys=True).encode())
    rest = {k: v for k, v in data.items() if k != "edits"}
    return [
        f"demo:edits {edits} (n={len(data['edits'])})",
        f"demo:result {_sha(json.dumps(rest, sort_keys=True).encode())}",
    ]


def main() -> None:
    """Print the behaviour hashes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sim", action="store_true", help="leave out the studies")
    parser.add_argument("--skip-demo", action="store_true", help="leave out the demo")
    parser.add_argument("--with-e", action="store_true", help="also rerun study (e)")
    args = parser.parse_args()
    lines = _plan_hashes(ROOT / "configs" / "example" / "job.toml", "example")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(20):
            folder = Path(tmp) / f"r{seed:02d}"
            folder.mkdir()
            lines += _plan_hashes(_random_portfolio(folder, seed), f"random-{seed:02d}")
    if not args.skip_demo:
        lines += _demo_hashes()
    if not args.skip_sim:
        lines += _sim_hashes(args.with_e)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
