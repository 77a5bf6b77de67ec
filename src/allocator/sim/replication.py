"""Replication blocks: the unit of randomness and of work of a simulated experiment.

Vectorizing over replications needs one ``numpy.random.Generator`` per batch (numpy's
samplers consume a variable number of random bits per element, so one replication's
draws depend on its neighbours'), and the engine's posterior sampling draws ``(R, S, K)``
Gamma variates from one generator too. So an experiment is cut into blocks of
``block_size`` replications, block ``i`` seeded from ``SeedSequence(base_seed,
spawn_key=(i,))``; workers receive whole blocks, so the numbers are identical whatever
the executor or the number of workers. A replication's numbers depend on ``(base_seed,
block_size, its index)`` only: a partial last block is simulated at full size and
truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["ReplicationBlock", "replication_blocks"]


@dataclass(frozen=True, slots=True)
class ReplicationBlock:
    """A fixed block of replications: the unit of randomness and of work.

    Attributes:
        base_seed: the experiment's seed.
        index: block number ``i``; it holds replications ``i * size .. i * size + size - 1``.
        size: replications simulated in the block (always the experiment's block size).
        keep: replications of the block that belong to the experiment (``<= size``; less
            only for the last block).
    """

    base_seed: int
    index: int
    size: int
    keep: int

    @property
    def replications(self) -> range:
        """Global replication ids kept from this block."""
        return range(self.index * self.size, self.index * self.size + self.keep)

    def env_rng(self) -> np.random.Generator:
        """Generator of the block's worlds and daily noise (same for every policy)."""
        seq = np.random.SeedSequence(self.base_seed, spawn_key=(self.index, 0))
        return np.random.default_rng(seq)

    def policy_rng(self) -> np.random.Generator:
        """Generator of the policies' own randomness (exploration, posterior draws)."""
        seq = np.random.SeedSequence(self.base_seed, spawn_key=(self.index, 1))
        return np.random.default_rng(seq)


def replication_blocks(
    base_seed: int, n_replications: int, block_size: int
) -> Iterator[ReplicationBlock]:
    """Cut ``n_replications`` into fixed-size blocks (executors distribute these).

    Args:
        base_seed: the experiment's seed (>= 0).
        n_replications: replications wanted (>= 1).
        block_size: replications per block (>= 1); part of the experiment's identity.

    Yields:
        Blocks in order; the last one keeps only the replications still wanted.
    """
    if n_replications < 1 or block_size < 1 or base_seed < 0:
        raise ValueError("need n_replications >= 1, block_size >= 1 and base_seed >= 0")
    n_blocks = -(-n_replications // block_size)
    for i in range(n_blocks):
        keep = min(block_size, n_replications - i * block_size)
        yield ReplicationBlock(base_seed=base_seed, index=i, size=block_size, keep=keep)
