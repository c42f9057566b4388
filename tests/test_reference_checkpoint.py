"""Checkpoints from the paper's public code load into `dual` with outputs meaning 1 = fake.

The class order comes from the checkpoint's `label_map` ([0, 1]: the sigmoid means real, [1, 0]:
fake; missing: refused unless --reference-positive says). Imported models are fed as the reference
code fed them: the first 300 frames, padded with the last."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from dfdetect.errors import DfdetectError
from dfdetect.models import create_model
from dfdetect.models.reference import convert_reference_checkpoint, is_reference_checkpoint


class ReferenceNet(nn.Module):
    """The public code's layout: children of a torchvision ResNet as nn.Sequential, nn.GRU,
    fc_cnn on every GRU step, fc_rnn on the 16x16-pooled sequence; sigmoid = P(real)."""

    def __init__(self, arch: str = "resnet50", hidden: int = 256, layers: int = 3, frame_on: str = "rnn") -> None:
        super().__init__()
        resnet = getattr(torchvision.models, arch)(weights=None)
        feat = resnet.fc.in_features
        self.cnn = nn.Sequential(*list(resnet.children())[:-1])
        self.rnn = nn.GRU(feat, hidden, layers, batch_first=True)
        self.frame_on = frame_on
        self.fc_cnn = nn.Linear(hidden if frame_on == "rnn" else feat, 1)
        self.fc_rnn = nn.Linear(256, 1)
        self.pool = nn.AdaptiveAvgPool2d((16, 16))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = x.shape[:2]
        feats = self.cnn(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)
        seq, _ = self.rnn(feats)
        p_real_frames = torch.sigmoid(self.fc_cnn(seq if self.frame_on == "rnn" else feats)).squeeze(-1)
        p_real_video = torch.sigmoid(self.fc_rnn(self.pool(seq).reshape(b, -1))).squeeze(-1)
        return p_real_video, p_real_frames


def _randomise_bn(model: nn.Module) -> None:
    """Non-trivial BatchNorm statistics, so a wrong key mapping cannot go unnoticed."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(1 + 0.1 * torch.rand(m.num_features, generator=gen))


@pytest.mark.parametrize("arch,prefix", [("resnet50", ""), ("resnet18", "module.")])
def test_reference_checkpoint_converts_and_flips(tmp_path, arch, prefix):
    torch.manual_seed(0)
    ref = ReferenceNet(arch, hidden=32, layers=2).eval()
    _randomise_bn(ref)
    path = tmp_path / "reference.pth"
    torch.save({"model_state_dict": {prefix + k: v for k, v in ref.state_dict().items()}, "epoch": 3, "label_map": [0, 1]}, path)

    obj = torch.load(path, map_location="cpu", weights_only=True)
    assert is_reference_checkpoint(obj)
    state, options = convert_reference_checkpoint(obj)
    assert options == {"backbone": arch, "head": "dual", "temporal": "gru", "hidden": 32, "layers": 2, "pool": 16, "frame_source": "temporal"}
    ours = create_model("dual", **options).eval()
    ours.load_state_dict(state, strict=True)

    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        p_real_video, p_real_frames = ref(x)
        out = ours(x)
    assert torch.allclose(torch.sigmoid(out["video"]), 1 - p_real_video, atol=1e-5)
    assert torch.allclose(torch.sigmoid(out["frame"]), 1 - p_real_frames, atol=1e-5)
    assert not torch.allclose(p_real_video, torch.full_like(p_real_video, 0.5), atol=1e-4)


def test_frame_head_on_cnn_features_is_recognised():
    torch.manual_seed(0)
    ref = ReferenceNet("resnet18", hidden=8, layers=1, frame_on="cnn").eval()
    state, options = convert_reference_checkpoint({"model_state_dict": ref.state_dict(), "label_map": [0, 1]})
    assert options["frame_source"] == "backbone"
    ours = create_model("dual", **options).eval()
    ours.load_state_dict(state, strict=True)
    x = torch.randn(1, 2, 3, 32, 32)
    with torch.no_grad():
        _, p_real_frames = ref(x)
        assert torch.allclose(torch.sigmoid(ours(x)["frame"]), 1 - p_real_frames, atol=1e-5)


def test_paper_default_shapes_are_inferred():
    ref = ReferenceNet("resnet50", hidden=256, layers=3)
    state, options = convert_reference_checkpoint({"model_state_dict": ref.state_dict(), "label_map": [0, 1]})
    assert (options["backbone"], options["hidden"], options["layers"]) == ("resnet50", 256, 3)
    assert state["video_head.weight"].shape == (1, 256)
    assert torch.equal(state["video_head.bias"], -ref.fc_rnn.bias.detach())


def test_other_checkpoints_are_not_mistaken_for_reference():
    ours = create_model("dual", backbone="resnet18", hidden=8, layers=1)
    assert not is_reference_checkpoint(ours.state_dict())
    assert not is_reference_checkpoint({"model_state_dict": {"cnn.0.weight": torch.zeros(1), "other.x": torch.zeros(1)}})
    assert not is_reference_checkpoint({"weights": [1, 2]})
    with pytest.raises(DfdetectError, match="not a reference checkpoint"):
        convert_reference_checkpoint({"state": {}})


def test_bad_reference_layout_is_a_one_line_error():
    ref = ReferenceNet("resnet18", hidden=8, layers=1)
    state = ref.state_dict()
    del state["rnn.weight_hh_l0"]
    with pytest.raises(DfdetectError, match="rnn"):
        convert_reference_checkpoint({"model_state_dict": state, "label_map": [0, 1]})


def _save_reference(path, ref: nn.Module, **extra) -> None:
    torch.save({"model_state_dict": ref.state_dict(), "epoch": 1, **extra}, path)


@pytest.mark.parametrize("label_map,positive", [([0, 1], "real"), ([1, 0], "fake")])
def test_label_map_decides_the_sign(tmp_path, label_map, positive):
    """The converted model gives P(fake) against the reference forward pass, whichever class order."""
    from dfdetect.checkpoint import load_model

    torch.manual_seed(2)
    ref = ReferenceNet("resnet18", hidden=8, layers=1).eval()
    _randomise_bn(ref)
    _save_reference(tmp_path / "ref.pth", ref, label_map=label_map)
    model, config = load_model(tmp_path / "ref.pth")
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        p_pos_video, p_pos_frames = ref(x)  # the reference's sigmoid, meaning `positive`
        out = model(x)
    p_fake_video = p_pos_video if positive == "fake" else 1 - p_pos_video
    p_fake_frames = p_pos_frames if positive == "fake" else 1 - p_pos_frames
    assert torch.allclose(torch.sigmoid(out["video"]), p_fake_video, atol=1e-6)
    assert torch.allclose(torch.sigmoid(out["frame"]), p_fake_frames, atol=1e-6)
    assert not torch.allclose(p_fake_video, 1 - p_fake_video, atol=1e-3)  # the sign is observable
    assert config["frames"] == 300 and config["sampling"] == "first"


def test_missing_label_map_is_refused_unless_overridden(tmp_path):
    from dfdetect.checkpoint import load_model

    torch.manual_seed(3)
    ref = ReferenceNet("resnet18", hidden=8, layers=1).eval()
    _save_reference(tmp_path / "ref.pth", ref)
    with pytest.raises(DfdetectError, match=r"ref\.pth: .*no label_map.*--reference-positive real\|fake"):
        load_model(tmp_path / "ref.pth")
    x = torch.randn(1, 3, 3, 32, 32)
    real_model, _ = load_model(tmp_path / "ref.pth", reference_positive="real")
    fake_model, _ = load_model(tmp_path / "ref.pth", reference_positive="fake")
    with torch.no_grad():
        p_pos, _ = ref(x)
        assert torch.allclose(torch.sigmoid(real_model(x)["video"]), 1 - p_pos, atol=1e-6)
        assert torch.allclose(torch.sigmoid(fake_model(x)["video"]), p_pos, atol=1e-6)
    _save_reference(tmp_path / "mapped.pth", ref, label_map=[1, 0])
    with pytest.raises(DfdetectError, match="contradicts the checkpoint's label_map"):
        load_model(tmp_path / "mapped.pth", reference_positive="real")


def test_eval_cli_names_the_override(tmp_path):
    from typer.testing import CliRunner

    from dfdetect.cli import app

    ref = ReferenceNet("resnet18", hidden=8, layers=1).eval()
    _save_reference(tmp_path / "ref.pth", ref)
    csv = tmp_path / "test.csv"
    import numpy as np

    np.save(tmp_path / "v.npy", np.zeros((4, 32, 32, 3), np.uint8))
    csv.write_text("video_id,label,faces_file,status\nv,0,v.npy,ok\n")  # a real row: the model is what fails
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "ref.pth"), str(csv)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "--reference-positive real|fake" in result.output


def test_imported_model_is_fed_the_first_300_frames_padded_with_the_last(tmp_path):
    from dfdetect.checkpoint import load_model
    from dfdetect.scoring.inference import score_stack

    torch.manual_seed(4)
    ref = ReferenceNet("resnet18", hidden=8, layers=1).eval()
    _save_reference(tmp_path / "ref.pth", ref, label_map=[1, 0])
    model, config = load_model(tmp_path / "ref.pth")
    seen = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    stack = np.random.default_rng(0).integers(0, 256, size=(5, 64, 64, 3), dtype=np.uint8)
    video, frames = score_stack(model, config, stack)
    assert len(seen) == 1 and seen[0].shape[:2] == (1, 300)
    assert all(torch.equal(seen[0][0, t], seen[0][0, 4]) for t in range(5, 300))
    assert not torch.equal(seen[0][0, 3], seen[0][0, 4])
    assert frames.shape == (5,)  # padding stays out of the frame scores
    with torch.no_grad():
        p_fake_video, _ = ref(seen[0])
    assert video == pytest.approx(float(p_fake_video), abs=1e-6)


def test_video_only_checkpoint_reports_no_frame_scores(tmp_path):
    from dfdetect.checkpoint import load_model
    from dfdetect.scoring.inference import score_stack

    ref = ReferenceNet("resnet18", hidden=8, layers=1).eval()
    _save_reference(tmp_path / "ref.pth", ref, label_map=[1, 0], args={"video_only": True})
    model, config = load_model(tmp_path / "ref.pth")
    assert config["frame_metrics"] is False
    stack = np.random.default_rng(1).integers(0, 256, size=(4, 64, 64, 3), dtype=np.uint8)
    video, frames = score_stack(model, config, stack)
    assert 0.0 < video < 1.0 and frames.size == 0
    _save_reference(tmp_path / "dual.pth", ref, label_map=[1, 0])
    assert load_model(tmp_path / "dual.pth")[1].get("frame_metrics", True) is True
