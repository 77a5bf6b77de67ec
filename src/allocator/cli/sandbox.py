"""``allocator sandbox serve``: the local TikTok Marketing API emulation over HTTP.

``allocator sandbox serve [--host 127.0.0.1] [--port N] [--token T] [--scenario FILE]
[--seed N] [--rate-limit N]`` serves the emulated API under ``/open_api/v1.3/`` and the
control API under ``/_sandbox/`` until interrupted (Ctrl-C or SIGTERM: graceful stop).
``--port 0`` (the default) picks a free port; the first line printed is the base URL.
The token defaults to ``sandbox-token`` (or ``$ALLOCATOR_SANDBOX_TOKEN``) and is never
printed.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from allocator.platform.sandbox import (
    SandboxServer,
    create_sandbox,
    default_scenario,
    load_scenario,
)

__all__ = ["register", "serve"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")
    ] = 0,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ALLOCATOR_SANDBOX_TOKEN",
            help="Access token to accept (default: the scenario's, 'sandbox-token').",
            show_default=False,
        ),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="Scenario TOML (default: the built-in DTC account)."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, help="Seed of the simulated world (default: scenario's)."),
    ] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option("--rate-limit", min=1, help="Requests per second per token before 40100."),
    ] = None,
) -> None:
    """Serve the sandbox API on HOST:PORT until interrupted."""
    chosen = load_scenario(scenario) if scenario is not None else default_scenario()
    api = create_sandbox(
        chosen,
        seed=seed,
        tokens=None if token is None else (token,),
        rate_limit_per_second=rate_limit,
    )
    if host not in _LOOPBACK:
        print(f"allocator sandbox: warning: binding {host}, not loopback", file=sys.stderr)
    server = SandboxServer(api, host, port)
    account = api.account
    typer.echo(server.url)
    typer.echo(
        f"allocator sandbox: advertiser {account.advertiser_id}, simulated day "
        f"{account.today.isoformat()}, API at {server.url}/open_api/v1.3/, "
        f"control at {server.url}/_sandbox/",
        err=True,
    )
    sys.stdout.flush()
    _run_until_signalled(server)
    typer.echo("allocator sandbox: stopped", err=True)


def _run_until_signalled(server: SandboxServer) -> None:
    """Serve in a thread; stop gracefully on SIGINT or SIGTERM."""
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        done.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True)
    thread.start()
    try:
        done.wait()
    finally:
        server.stop()
        thread.join(timeout=5.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    """Add the ``sandbox`` sub-command group to ``app``."""
    sandbox = typer.Typer(help="Local emulation of the TikTok Marketing API.", no_args_is_help=True)
    sandbox.command("serve")(serve)
    app.add_typer(sandbox, name="sandbox")
