"""The scheduling examples under ``deploy/`` parse, and call the job the way it expects.

cron: each line is an environment assignment or five valid time fields, a user and a
command. systemd: the units parse as INI with the keys systemd needs, and
``systemd-analyze verify`` accepts them when it is installed (with ``ExecStart`` pointed at
``/bin/true``, since the allocator install path does not exist here). Kubernetes: the
manifest is valid YAML with a ``batch/v1`` CronJob whose token comes from a Secret
(skipped when PyYAML is missing; it is not a dependency). In all three, the options given
to ``allocator`` exist on ``allocator rebalance``, and no token value appears.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from allocator.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _rebalance_options(capsys: pytest.CaptureFixture[str]) -> set[str]:
    assert main(["rebalance", "--help"]) == 0
    return set(re.findall(r"--[a-z][a-z-]+", capsys.readouterr().out))


def _allocator_args(command: str) -> list[str]:
    words = shlex.split(command)
    start = next(i for i, w in enumerate(words) if w.endswith("/allocator") or w == "allocator")
    return words[start + 1 :]


def _check_args(args: list[str], options: set[str]) -> None:
    assert args[0] == "rebalance"
    assert {"--config", "--apply"} <= set(args)
    unknown = {a for a in args if a.startswith("--")} - options
    assert not unknown, f"unknown options {unknown}"


def _cron_field_ok(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return False
        if base == "*":
            continue
        first, _, last = base.partition("-")
        bounds = [first] + ([last] if last else [])
        if not all(b.isdigit() and low <= int(b) <= high for b in bounds):
            return False
    return True


def test_the_cron_entry_is_valid_and_runs_the_job(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        line
        for line in (DEPLOY / "cron" / "allocator.cron").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    jobs = [line for line in lines if not re.match(r"^[A-Z_]+=", line)]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 6)
    assert len(fields) == 7, "five time fields, a user and a command"
    for field, (low, high) in zip(fields[:5], CRON_RANGES, strict=True):
        assert _cron_field_ok(field, low, high), field
    command = fields[6].split("&&")[-1].split(">>")[0]
    _check_args(_allocator_args(command), _rebalance_options(capsys))
    assert "TOKEN=" not in jobs[0]


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text(encoding="utf-8"))
    return parser


def test_the_systemd_units_parse_and_the_timer_starts_the_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = _unit("allocator-rebalance.service")
    timer = _unit("allocator-rebalance.timer")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["EnvironmentFile"].startswith("/etc/")
    _check_args(_allocator_args(service["Service"]["ExecStart"]), _rebalance_options(capsys))
    assert timer["Timer"]["Unit"] == "allocator-rebalance.service"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert "TOKEN" not in service["Service"].get("Environment", "")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    text = (DEPLOY / "systemd" / "allocator-rebalance.service").read_text(encoding="utf-8")
    (tmp_path / "allocator-rebalance.service").write_text(
        re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", text, flags=re.MULTILINE),
        encoding="utf-8",
    )
    shutil.copy(DEPLOY / "systemd" / "allocator-rebalance.timer", tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", "allocator-rebalance.timer", "allocator-rebalance.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calendar = _unit("allocator-rebalance.timer")["Timer"]["OnCalendar"]
    check = subprocess.run(
        ["systemd-analyze", "calendar", calendar], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr


def test_the_kubernetes_cronjob_takes_the_token_from_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    yaml = pytest.importorskip("yaml")
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "cronjob.yaml").read_text()))
    (cron,) = [d for d in docs if d["kind"] == "CronJob"]
    assert cron["apiVersion"] == "batch/v1"
    spec = cron["spec"]
    fields = spec["schedule"].split()
    assert len(fields) == 5
    for field, (low, high) in zip(fields, CRON_RANGES, strict=True):
        assert _cron_field_ok(field, low, high), field
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    _check_args(container["args"], _rebalance_options(capsys))
    (token,) = [e for e in container["env"] if e["name"] == "TIKTOK_ACCESS_TOKEN"]
    assert "value" not in token
    assert token["valueFrom"]["secretKeyRef"]["key"]
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["state"]["persistentVolumeClaim"]["claimName"] in claims
