"""Checkpoints: round trip, RUN-folder resolution, reference-code files, and refusal of pickled code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from dfdetect.checkpoint import load_model, read_checkpoint, save_checkpoint
from dfdetect.errors import DfdetectError
from dfdetect.models import create_model

TINY = dict(backbone="test_resnet", hidden=8, layers=1, frames=3, img_size=32)


def _config(model: torch.nn.Module) -> dict:
    cfg = model.input_cfg
    return {"model": "dual", "model_options": model.model_options, **cfg, "pretrained": False, "loss": "auc"}


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("dual", **TINY).eval()
    path = save_checkpoint(tmp_path / "best.ckpt", model, _config(model))
    loaded, config = load_model(tmp_path)  # a RUN folder means its best.ckpt
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a["video"], b["video"]) and torch.equal(a["frame"], b["frame"])
    assert config["img_size"] == 32 and config["frames"] == 3 and config["model"] == "dual"
    raw = read_checkpoint(path)
    json.loads(raw["config"])  # config is JSON text
    assert all(isinstance(v, torch.Tensor) for v in raw["state_dict"].values())


def test_missing_best_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "last.ckpt").write_bytes(b"")
    with pytest.raises(DfdetectError, match="no best.ckpt in this run folder.*last.ckpt exists"):
        load_model(tmp_path)
    with pytest.raises(DfdetectError, match="no such checkpoint"):
        load_model(tmp_path / "nope.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(DfdetectError, match="not a readable checkpoint"):
        load_model(tmp_path / "junk.ckpt")


class _Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


def test_pickle_payload_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"format": "dfdetect-checkpoint", "config": "{}", "state_dict": {}, "x": _Payload(marker)}, path)
    assert not marker.exists()
    with pytest.raises(DfdetectError) as info:
        load_model(path)
    message = str(info.value)
    assert "refused" in message and "\n" not in message
    assert not marker.exists(), "the payload ran"


def test_pickle_payload_refused_through_the_cli(tmp_path: Path, runner) -> None:
    from dfdetect.cli import app

    marker = tmp_path / "pwned"
    torch.save({"model_state_dict": _Payload(marker)}, tmp_path / "evil.pth")
    csv = tmp_path / "train.csv"
    csv.write_text("video_id,label,faces_file,status\n")
    result = runner.invoke(
        app, ["train", str(csv), "--init-from", str(tmp_path / "evil.pth"), "--no-pretrained", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 1
    assert "refused" in result.output and "Traceback" not in result.output
    assert not marker.exists()


def test_reference_checkpoint_loads_with_flipped_outputs(tmp_path: Path) -> None:
    """A state dict in the paper's code layout (cnn.*, rnn.*, fc_cnn.*, fc_rnn.*), logits meaning real."""
    torch.manual_seed(1)
    ours = create_model("dual", backbone="resnet18", hidden=8, layers=1, img_size=32, frames=3).eval()
    names = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    ref = {}
    for key, value in ours.state_dict().items():
        if key.startswith("backbone.net."):
            child, rest = key.removeprefix("backbone.net.").split(".", 1)
            ref[f"module.cnn.{names[child]}.{rest}"] = value
        elif key.startswith("temporal."):
            ref["module.rnn." + key.removeprefix("temporal.")] = value
        else:
            head, rest = key.split(".", 1)
            ref[f"module.{'fc_cnn' if head == 'frame_head' else 'fc_rnn'}.{rest}"] = -value
    torch.save({"model_state_dict": ref, "epoch": 3, "label_map": [0, 1]}, tmp_path / "reference.pth")
    loaded, config = load_model(tmp_path / "reference.pth")
    assert config["source"] == "reference" and config["model"] == "dual"
    x = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        a, b = ours(x), loaded(x)
    assert torch.allclose(a["video"], b["video"]) and torch.allclose(a["frame"], b["frame"])


def test_pickle_payload_in_train_weights_is_refused_without_running(tmp_path: Path, runner) -> None:
    """`train --weights FILE` goes through models.backbones.load_local_weights, not load_model."""
    from dfdetect.cli import app
    from dfdetect.models.backbones import load_local_weights

    marker = tmp_path / "pwned"
    evil = tmp_path / "backbone.pth"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "x": _Payload(marker)}, evil)
    with pytest.raises(DfdetectError, match=r"backbone.pth: not a readable tensor-only state dict \(Weights only load failed") as info:
        load_local_weights(torch.nn.Linear(1, 1), evil)
    assert "\n" not in str(info.value)
    assert not marker.exists(), "the payload ran"

    csv = tmp_path / "train.csv"
    csv.write_text("video_id,label,faces_file,status\n")
    result = runner.invoke(
        app, ["train", str(csv), "--backbone", "test_resnet", "--weights", str(evil), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 1, result.output
    assert "not a readable tensor-only state dict" in result.output and "Traceback" not in result.output
    assert not marker.exists(), "the payload ran"
