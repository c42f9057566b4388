"""Training samplers that control the class mix of each batch and the length of an epoch.

`EpochSampler` (training/data.py) draws items uniformly (or class-balanced with replacement). At
1:200 a batch of 16 then holds no fake at all most of the time, so the AUC loss's pairwise term
(fake × real pairs inside a batch) is empty and the AUC loss reduces to its BCE half. `ClassMixSampler`
with `fakes_per_batch=k` builds every batch from k fakes and `batch_size - k` reals, so each
batch has pairs. Both classes come from endless reshuffled streams: the fakes are cycled
(oversampled), and the default epoch is ceil(n_real / (batch_size - k)) batches, so it draws
every real at least once; the last batch is topped up from the next reshuffle, so a few reals
come twice (20 reals at 3 per batch: 7 batches, 21 draws, one real twice).

`samples_per_epoch` fixes the epoch length, so that training sets of different sizes get the
same number of optimisation steps (the paper protocol of `dfdetect benchmark`).

Under DDP every rank must run the same number of steps, or the gradient all-reduce waits forever
for the rank that stopped: the batch list is padded (by repeating its first batches, as
DistributedSampler repeats items) to a multiple of the number of ranks before it is dealt out.

Keys are (index, epoch) pairs like EpochSampler's, and the order depends only on (seed, epoch).
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np


class _Stream:
    """An endless stream of indices: a fresh permutation each time the previous one runs out."""

    def __init__(self, indices: np.ndarray, rng: np.random.Generator) -> None:
        self.indices, self.rng = indices, rng
        self.order: list[int] = []

    def take(self, n: int) -> list[int]:
        out: list[int] = []
        while len(out) < n:
            if not self.order:
                self.order = self.rng.permutation(self.indices).tolist()
            k = min(n - len(out), len(self.order))
            out += self.order[:k]
            self.order = self.order[k:]
        return out


class ClassMixSampler:
    """Yields (index, epoch) keys in batches of `batch_size`, each with `fakes_per_batch` fakes.

    fakes_per_batch = 0: a shuffled stream of all items (the plain shuffle), `samples_per_epoch`
    long (default: every item once). fakes_per_batch = k > 0: every batch (the last one too) holds
    exactly k fakes and batch_size - k reals; the default epoch has ceil(n_real / (batch_size - k))
    batches, which draws every real at least once and tops the last batch up with reals drawn again.
    Use it with a DataLoader whose batch_size equals `batch_size` (and drop_last False).
    Under DDP each rank takes every num_replicas-th whole batch of the list padded to a multiple
    of num_replicas, so that every rank runs the same number of steps.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        fakes_per_batch: int = 0,
        samples_per_epoch: int | None = None,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        if fakes_per_batch < 0 or fakes_per_batch >= batch_size:
            raise ValueError(f"fakes_per_batch must be in [0, batch_size - 1], got {fakes_per_batch} for batch {batch_size}")
        self.fake = np.flatnonzero(labels == 1)
        self.real = np.flatnonzero(labels == 0)
        if fakes_per_batch and (len(self.fake) == 0 or len(self.real) == 0):
            raise ValueError("fakes_per_batch needs both real and fake items")
        self.n_items = len(labels)
        self.batch_size, self.k = int(batch_size), int(fakes_per_batch)
        self.seed, self.num_replicas, self.rank = seed, num_replicas, rank
        if samples_per_epoch is None:
            reals_per_batch = self.batch_size - self.k
            samples_per_epoch = (
                math.ceil(len(self.real) / reals_per_batch) * self.batch_size if self.k else self.n_items
            )
        self.samples_per_epoch = int(samples_per_epoch)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch, 7919])
        n_batches = math.ceil(self.samples_per_epoch / self.batch_size)
        if not self.k:
            flat = _Stream(np.arange(self.n_items), rng).take(self.samples_per_epoch)
            return [flat[i : i + self.batch_size] for i in range(0, len(flat), self.batch_size)]
        reals, fakes = _Stream(self.real, rng), _Stream(self.fake, rng)
        batches = []
        for _ in range(n_batches):
            batch = reals.take(self.batch_size - self.k) + fakes.take(self.k)
            batches.append(rng.permutation(batch).tolist())  # fakes not always last in the batch
        return batches

    def _for_rank(self, batches: list) -> list:
        """This rank's share of `batches`, padded with the first ones to a multiple of the ranks."""
        total = math.ceil(len(batches) / self.num_replicas) * self.num_replicas
        padded = batches + (batches * math.ceil(total / max(len(batches), 1)))[: total - len(batches)]
        return padded[self.rank :: self.num_replicas]

    def _batch_sizes(self) -> list[int]:
        n_batches = math.ceil(self.samples_per_epoch / self.batch_size)
        if self.k:  # every batch full, the last one too
            return [self.batch_size] * n_batches
        return [min(self.batch_size, self.samples_per_epoch - i * self.batch_size) for i in range(n_batches)]

    def __len__(self) -> int:
        return sum(self._for_rank(self._batch_sizes()))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for batch in self._for_rank(self._batches()):
            for index in batch:
                yield (int(index), self.epoch)
