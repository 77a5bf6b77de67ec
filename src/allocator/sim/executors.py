"""Executors: where the blocks of an experiment run.

An executor is a callable ``(run, blocks) -> iterator of results`` that applies ``run``
(a picklable block runner, :func:`allocator.sim.runner.simulate_block` bound to its
config) to every block and yields the results as they finish, in any order. The results
do not depend on the executor: each block carries its own seeds.

* :class:`LocalExecutor`: a :class:`concurrent.futures.ProcessPoolExecutor` (the
  default), ``workers`` processes (default ``os.cpu_count()``); with one worker the blocks
  run in the calling process (no pool to start).
* :class:`RayExecutor`: Ray tasks, on a local Ray instance it starts
  (``ray.init(num_cpus=workers, include_dashboard=False)``) or on an existing cluster
  (``address``, e.g. ``"auto"`` or ``"ray://head:10001"``). Ray is an optional extra
  (``pip install 'allocator[ray]'``); a Ray instance already initialized in the process
  is used as it is and left running.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from allocator.errors import ConfigError

__all__ = ["LocalExecutor", "RayExecutor", "make_executor"]

T = TypeVar("T")
R = TypeVar("R")


def _default_workers(workers: int | None) -> int:
    if workers is None:
        return max(os.cpu_count() or 1, 1)
    if workers < 1:
        raise ConfigError(f"must be >= 1, got {workers}", key="--workers")
    return workers


class LocalExecutor:
    """Blocks in local worker processes (``spawn``ed, so no state leaks from the parent).

    Args:
        workers: processes (default ``os.cpu_count()``); 1 runs in this process.
    """

    def __init__(self, workers: int | None = None) -> None:
        """Create the executor (processes start on the first call)."""
        self.workers = _default_workers(workers)

    def __call__(self, run: Callable[[T], R], items: list[T]) -> Iterator[R]:
        """Apply ``run`` to each item; yield results as they complete."""
        if self.workers == 1 or len(items) <= 1:
            yield from (run(item) for item in items)
            return
        context = multiprocessing.get_context("spawn")
        n = min(self.workers, len(items))
        with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
            pending: set[Future[R]] = {pool.submit(run, item) for item in items}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
            finally:
                for future in pending:
                    future.cancel()


def _call(run: Callable[[Any], Any], item: Any) -> Any:
    """The Ray task body: ``run(item)``."""
    return run(item)


class RayExecutor:
    """Blocks as Ray tasks, locally or on a cluster.

    Args:
        workers: CPUs of the local Ray instance it starts (default ``os.cpu_count()``);
            ignored with ``address`` (the cluster has its own).
        address: an existing cluster's address; ``None`` starts a local instance.
    """

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        """Create the executor (Ray starts on the first call)."""
        self.workers = _default_workers(workers)
        self.address = address

    def __call__(self, run: Callable[[T], R], items: list[T]) -> Iterator[R]:
        """Apply ``run`` to each item as Ray tasks; yield results as they complete."""
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "the ray executor needs Ray: pip install 'allocator[ray]'", key="--executor"
            ) from exc
        started = not ray.is_initialized()
        if started:
            if self.address is None:
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        try:
            task = ray.remote(_call)
            shared = ray.put(run)
            pending = [task.remote(shared, item) for item in items]
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                yield ray.get(finished[0])
        finally:
            if started:
                ray.shutdown()


def make_executor(
    kind: str, workers: int | None = None, address: str | None = None
) -> LocalExecutor | RayExecutor:
    """The executor named ``kind`` (``local`` or ``ray``)."""
    if kind == "local":
        if address is not None:
            raise ConfigError("--address is for the ray executor", key="--address")
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, address)
    raise ConfigError(f"unknown executor {kind!r} (local or ray)", key="--executor")
