"""ClassMixSampler (fakes in every batch, fixed epoch length) and the DeLong interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dfdetect.training.samplers import ClassMixSampler

LABELS = np.array([0] * 200 + [1] * 3)  # 1:~67, the AUC loss's hard case


def _batches(sampler: ClassMixSampler, size: int) -> list[list[int]]:
    keys = list(sampler)
    assert len(keys) == len(sampler)
    idx = [i for i, _ in keys]
    return [idx[i : i + size] for i in range(0, len(idx), size)]


def test_every_batch_holds_the_asked_fakes_and_every_real_comes_once() -> None:
    sampler = ClassMixSampler(LABELS, 16, fakes_per_batch=2, seed=3)
    batches = _batches(sampler, 16)
    assert all(len(b) == 16 and sum(LABELS[b]) == 2 for b in batches)
    reals = [i for b in batches for i in b if LABELS[i] == 0]
    assert sorted(set(reals)) == list(range(200)) and len(batches) == 15  # ceil(200 / 14)


def test_plain_shuffle_at_this_ratio_leaves_most_batches_without_a_fake() -> None:
    # why the sampler exists: a uniform batch of 16 at 1:67 rarely holds a fake
    batches = _batches(ClassMixSampler(LABELS, 16, seed=3), 16)
    assert sum(1 for b in batches if LABELS[b].sum() == 0) > len(batches) // 2


def test_fixed_epoch_length_and_same_seed_same_order() -> None:
    a = ClassMixSampler(LABELS, 8, samples_per_epoch=40, seed=1)
    assert len(a) == 40 and len(list(a)) == 40
    b = ClassMixSampler(LABELS, 8, fakes_per_batch=1, samples_per_epoch=40, seed=1)
    assert len(b) == 40 and all(sum(LABELS[x]) == 1 for x in _batches(b, 8))
    c = ClassMixSampler(LABELS, 8, fakes_per_batch=1, samples_per_epoch=40, seed=1)
    assert list(b) == list(c)
    c.set_epoch(2)
    assert list(c) != list(b) and all(e == 2 for _, e in c)


def test_ranks_take_whole_batches_padded_to_the_same_count() -> None:
    # 15 batches over 2 ranks: rank 1 repeats the first batch, so both run 8 steps (no DDP hang)
    ranks = [ClassMixSampler(LABELS, 16, fakes_per_batch=2, seed=0, num_replicas=2, rank=r) for r in (0, 1)]
    full = _batches(ClassMixSampler(LABELS, 16, fakes_per_batch=2, seed=0), 16)
    assert len(full) == 15
    assert _batches(ranks[0], 16) == full[0::2] and _batches(ranks[1], 16) == full[1::2] + [full[0]]
    assert len(ranks[0]) == len(ranks[1]) == 8 * 16


def test_default_epoch_draws_every_real_and_tops_the_last_batch_up() -> None:
    # what the class docstring says: 20 reals at 3 per batch -> 7 batches, 21 real draws, one real twice
    labels = np.array([0] * 20 + [1] * 2)
    idx = [i for i, _ in ClassMixSampler(labels, 4, fakes_per_batch=1, seed=0)]
    reals = [i for i in idx if labels[i] == 0]
    assert len(idx) == 28 and len(reals) == 21 and sorted(set(reals)) == list(range(20))


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("options", [dict(fakes_per_batch=1), dict(samples_per_epoch=10), dict(samples_per_epoch=11)],
                         ids=["fake-per-batch", "samples-per-epoch", "partial-last-batch"])
def test_every_rank_runs_the_same_number_of_loader_steps(world: int, options: dict) -> None:
    # the real DataLoader over each rank's sampler, as the trainer builds it: 5 or 6 batches of 2
    from torch.utils.data import DataLoader

    labels = np.array([0, 1] * 5)
    steps = [len(list(DataLoader(list(range(10)), batch_size=2, sampler=[i for i, _ in ClassMixSampler(
        labels, 2, seed=0, num_replicas=world, rank=r, **options)]))) for r in range(world)]
    batches = math.ceil(len(ClassMixSampler(labels, 2, **options)) / 2)  # on one process
    assert steps == [math.ceil(batches / world)] * world


def test_bad_fakes_per_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="fakes_per_batch must be in"):
        ClassMixSampler(LABELS, 4, fakes_per_batch=4)
    with pytest.raises(ValueError, match="needs both real and fake"):
        ClassMixSampler(np.zeros(10, dtype=int), 4, fakes_per_batch=1)


def test_train_config_rejects_fake_per_batch_with_balance() -> None:
    from dfdetect.errors import UsageError
    from dfdetect.training import TrainConfig

    with pytest.raises(UsageError, match="--balance cannot be combined"):
        TrainConfig(train_csv="x.csv", fake_per_batch=1, balance=True).validate()
    with pytest.raises(UsageError, match="--fake-per-batch must be between"):
        TrainConfig(train_csv="x.csv", fake_per_batch=16, batch_size=16).validate()
