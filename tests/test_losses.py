"""The loss registry: the AUC loss's sign, value, gradients and edge cases; the dual-level sum."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from dfdetect.errors import UsageError
from dfdetect.training.losses import DualLevelLoss, create_loss, list_losses, pairwise_auc_term


def brute_force_auc_term(logits: torch.Tensor, targets: torch.Tensor, gamma: float, p: float) -> float:
    """The method (docs/method.md) read literally, one pair at a time."""
    scores = torch.sigmoid(logits).tolist()
    labels = targets.tolist()
    penalties = []
    for (s_i, y_i), (s_j, y_j) in itertools.product(zip(scores, labels), zip(scores, labels)):
        if y_i == 1 and y_j == 0 and s_i - s_j < gamma:
            penalties.append((gamma - (s_i - s_j)) ** p)
    return sum(penalties) / len(penalties) if penalties else 0.0


def test_registry_has_the_four_losses():
    assert list_losses() == ["auc", "bce", "ce", "focal"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gamma,p", [(0.15, 2.0), (0.3, 1.0), (0.5, 3.0)])
def test_auc_term_matches_brute_force_double_loop(seed, gamma, p):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(13, generator=gen) * 2
    targets = (torch.rand(13, generator=gen) < 0.4).float()
    targets[0], targets[1] = 1.0, 0.0  # both classes present
    got = pairwise_auc_term(logits, targets, gamma, p).item()
    assert got == pytest.approx(brute_force_auc_term(logits, targets, gamma, p), rel=1e-5, abs=1e-7)
    assert got > 0
    # The full loss is the alpha mix of BCE and that term.
    loss = create_loss("auc", alpha=0.3, gamma=gamma, p=p)(logits, targets).item()
    bce = F.binary_cross_entropy_with_logits(logits, targets).item()
    assert loss == pytest.approx(0.3 * bce + 0.7 * got, rel=1e-5)


def test_auc_gradient_pushes_fakes_up_and_reals_down():
    logits = torch.tensor([0.0, -1.0, 0.2, 1.0], requires_grad=True)  # fake, fake, real, real
    targets = torch.tensor([1.0, 1.0, 0.0, 0.0])
    create_loss("auc", alpha=0.0)(logits, targets).backward()
    grad = logits.grad
    assert grad[0] < 0 and grad[1] < 0, "descending must raise fake scores"
    assert grad[2] > 0 and grad[3] > 0, "descending must lower real scores"


def test_auc_term_is_zero_when_every_pair_meets_the_margin():
    logits = torch.tensor([6.0, 5.0, -5.0, -6.0], requires_grad=True)
    targets = torch.tensor([1.0, 1.0, 0.0, 0.0])
    term = pairwise_auc_term(logits, targets)
    assert term.item() == 0.0
    term.backward()
    assert torch.all(logits.grad == 0)


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_one_class_batch_gives_no_nan_and_reduces_to_bce(label):
    logits = torch.tensor([0.3, -1.2, 2.0], requires_grad=True)
    targets = torch.full((3,), label)
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    full = create_loss("auc", alpha=1.0)(logits, targets)
    mixed = create_loss("auc", alpha=0.5)(logits, targets)
    auc_only = create_loss("auc", alpha=0.0)(logits, targets)
    assert torch.isfinite(mixed) and torch.isfinite(auc_only)
    assert full.item() == pytest.approx(bce.item())
    assert mixed.item() == pytest.approx(0.5 * bce.item())  # the AUC term is 0
    assert auc_only.item() == 0.0
    auc_only.backward()
    assert torch.isfinite(logits.grad).all()


def test_empty_batch_is_finite():
    loss = create_loss("auc", alpha=0.0)(torch.zeros(0, requires_grad=True), torch.zeros(0))
    assert loss.item() == 0.0


def test_auc_only_training_on_separable_data_drives_auc_to_one():
    """The reference code's swapped pairs would drive this to 0; ours must reach ~1."""
    gen = torch.Generator().manual_seed(0)
    n = 200
    labels = (torch.arange(n) % 2).float()
    # Separable along feature 0 (fakes positive), but the model starts pointing the wrong way.
    x = torch.randn(n, 5, generator=gen)
    x[:, 0] = (labels * 2 - 1) * (1.0 + torch.rand(n, generator=gen))
    model = torch.nn.Linear(5, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[0, 0] = -1.0
        model.bias.zero_()
    start_auc = roc_auc_score(labels.numpy(), model(x).squeeze(1).detach().numpy())
    assert start_auc < 0.1
    loss_fn = create_loss("auc", alpha=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for step in range(300):
        idx = torch.randperm(n, generator=gen)[:32]
        opt.zero_grad()
        loss_fn(model(x[idx]).squeeze(1), labels[idx]).backward()
        opt.step()
    end_auc = roc_auc_score(labels.numpy(), model(x).squeeze(1).detach().numpy())
    assert end_auc > 0.95


def test_bce_pos_weight_and_ce_and_focal():
    logits = torch.tensor([0.5, -0.5, 2.0, -1.0])
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0])
    plain = create_loss("bce")(logits, targets).item()
    weighted = create_loss("bce", pos_weight=3.0)(logits, targets).item()
    assert weighted > plain
    assert weighted == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, targets, pos_weight=torch.tensor(3.0)).item()
    )
    assert create_loss("ce")(logits, targets).item() == pytest.approx(plain, rel=1e-6)
    assert create_loss("ce", label_smoothing=0.2)(logits, targets).item() != pytest.approx(plain)
    focal = create_loss("focal")(logits, targets).item()
    assert 0 < focal < plain  # easy examples are down-weighted
    assert create_loss("focal", gamma=0.0)(logits, targets).item() == pytest.approx(plain, rel=1e-6)


def test_create_loss_drops_none_and_rejects_unknown_options():
    create_loss("bce", alpha=None, gamma=None, pos_weight=None)
    with pytest.raises(UsageError, match="does not take gamma"):
        create_loss("bce", gamma=0.15)
    with pytest.raises(UsageError, match="did you mean 'auc'"):
        create_loss("acu")
    with pytest.raises(UsageError, match="alpha"):
        create_loss("auc", alpha=1.5)


def test_dual_level_loss_weights_levels_and_masks_padding():
    bce = create_loss("bce")
    loss = DualLevelLoss(bce, beta=0.6)
    video = torch.tensor([2.0, -1.0])
    frame = torch.tensor([[1.0, 0.5, -9.0], [-2.0, 0.0, 9.0]])
    targets = torch.tensor([1.0, 0.0])
    mask = torch.tensor([[True, True, False], [True, True, False]])  # last frame padded
    total, parts = loss({"video": video, "frame": frame}, targets, mask)
    expect_video = bce(video, targets).item()
    expect_frame = bce(torch.tensor([1.0, 0.5, -2.0, 0.0]), torch.tensor([1.0, 1.0, 0.0, 0.0])).item()
    assert parts["video"] == pytest.approx(expect_video)
    assert parts["frame"] == pytest.approx(expect_frame)
    assert total.item() == pytest.approx(0.6 * expect_video + 0.4 * expect_frame)
    assert parts["total"] == pytest.approx(total.item())
    # One level only: that level is the total, whatever beta says.
    only_frame, parts = loss({"video": None, "frame": frame}, targets, None)
    assert only_frame.item() == pytest.approx(bce(frame.reshape(-1), targets.repeat_interleave(3)).item())
    assert set(parts) == {"frame", "total"}
    only_video, _ = loss({"video": video}, targets)
    assert only_video.item() == pytest.approx(expect_video)
