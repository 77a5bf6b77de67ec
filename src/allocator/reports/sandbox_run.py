"""A sandbox account run by the job for N days, then reported: the report's test bed.

:func:`run_and_report` serves the demo's sandbox account (12 ad groups, 10 of them
managed by the job) on 127.0.0.1, runs ``allocator rebalance --apply`` for each of
``days`` simulated days with the sandbox delivering each day, then writes the account
report with :func:`~allocator.reports.account.report_for_config` while the sandbox still
serves, and returns the sandbox's own edit log beside it. The browser tests, the report
benchmark and the README screenshots use it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["SandboxRun", "run_and_report"]


@dataclass(frozen=True, slots=True)
class SandboxRun:
    """What :func:`run_and_report` produced.

    Attributes:
        report: the account report (HTML).
        config: the job config the days ran with.
        store: the job's SQLite store.
        edits: the sandbox's edit log (applied budget and status writes), oldest first.
        exit_codes: the job's exit code on each day.
    """

    report: Path
    config: Path
    store: Path
    edits: tuple[dict[str, Any], ...]
    exit_codes: tuple[int, ...]


def run_and_report(workdir: Path, *, days: int = 30, seed: int = 7) -> SandboxRun:
    """Run the job ``days`` days against a fresh sandbox in ``workdir``; report it.

    Raises:
        ValueError: ``days`` < 1.
    """
    import httpx

    from allocator.config import load_job_config
    from allocator.job.rebalance import RebalanceOptions, run_rebalance
    from allocator.job.sandbox_demo import TOKEN_ENV, demo_config_text, demo_scenario
    from allocator.platform.sandbox import DEFAULT_TOKEN, create_sandbox, serve_in_thread
    from allocator.reports.account import report_for_config

    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    today = datetime.now(UTC).date()
    start = today - timedelta(days=days + 1)
    api = create_sandbox(demo_scenario(seed, start, 14), rate_limit_per_second=100_000)
    workdir.mkdir(parents=True, exist_ok=True)
    path, store = workdir / "job.toml", workdir / "job.sqlite"
    environ = {TOKEN_ENV: DEFAULT_TOKEN}
    headers = {"Access-Token": DEFAULT_TOKEN}
    codes: list[int] = []
    with serve_in_thread(api) as url, httpx.Client() as http:
        path.write_text(demo_config_text(url, 460.0, 30.0, store), encoding="utf-8")
        config = load_job_config(path)
        for i in range(days):
            options = RebalanceOptions(
                as_of=start + timedelta(days=i),
                apply=True,
                today=today,
                log_stream=io.StringIO(),
                environ=environ,
            )
            codes.append(int(run_rebalance(config, path, options).exit_code))
            http.post(
                f"{url}/_sandbox/advance", json={"days": 1}, headers=headers
            ).raise_for_status()
        edits = http.get(f"{url}/_sandbox/edits", headers=headers).json()["data"]["edits"]
        report = report_for_config(config, path, workdir / "report.html", environ=environ)
    return SandboxRun(report, path, store, tuple(edits), tuple(codes))
