"""The process exit codes of every ``allocator`` command, defined once.

* ``OK`` (0): success, nothing to do, or a dry run;
* ``FAILURE`` (1): another failure (platform down, refusal, unexpected error);
* ``USAGE`` (2): bad input or config, with one line on stderr naming file, line/key and reason;
* ``PARTIAL`` (3): a partial apply (some changes landed, some did not).

:func:`allocator.cli.main` maps errors to them; a rebalance result names its own
(:attr:`allocator.job.results.RebalanceResult.exit_code`). No dependencies, so both the
command line and the demo import it without pulling in anything else.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """The exit code of an ``allocator`` command (see the module docstring)."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    PARTIAL = 3
