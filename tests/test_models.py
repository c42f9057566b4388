"""Every registered model: forward contract, one optimisation step, rebuild from its options;
plus the dual network's specifics, weight loading and the registry's errors."""

from __future__ import annotations

from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision

from dfdetect.errors import DfdetectError, UsageError
from dfdetect.training.losses import DualLevelLoss, create_loss
from dfdetect.models import create_model, list_models, model_info
from dfdetect.models.frequency import BlockDCT

# Small settings so the whole parametrised suite stays quick on two CPU cores.
SMALL = {
    "dual": dict(backbone="resnet18", hidden=16, layers=2, img_size=32),
    "cnn": dict(backbone="resnet18", img_size=32),
    "crnn": dict(img_size=32, hidden=16),
    "r3d": dict(img_size=32),
    "fwa": dict(backbone="resnet18", img_size=32),
    "xception": dict(img_size=32),
    "meso4": dict(img_size=64),
    "mesoinception4": dict(img_size=64),
    "capsule": dict(img_size=32, capsules=4),
    "vit": dict(img_size=32),
    "resvit": dict(img_size=32, depth=1),
}
EXPECTED_MODELS = {"dual", "crnn", "r3d", "xception", "meso4", "mesoinception4", "fwa", "capsule", "cnn", "vit", "resvit"}


def test_registry_holds_every_model_of_the_issue():
    assert EXPECTED_MODELS <= set(list_models())
    assert list_models("meso*") == ["meso4", "mesoinception4"]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "xception" else n for n in list_models()]  # ~30 s on 2 busy cores
)
def test_forward_contract_and_one_training_step(name):
    torch.manual_seed(0)
    options = SMALL.get(name, {"img_size": 32})
    model = create_model(name, **options)
    level = model_info(name)["level"]
    assert level in {"video", "frame", "dual"}
    cfg = model.input_cfg
    assert set(cfg) == {"img_size", "frames", "mean", "std"}
    assert cfg["img_size"] == options["img_size"] and len(cfg["mean"]) == len(cfg["std"]) == 3
    assert model.pretrained is False and model.level == level

    batch, frames, size = 2, 2, cfg["img_size"]
    x = torch.randn(batch, frames, 3, size, size)
    out = model(x)
    assert set(out) == {"video", "frame"}
    assert (out["video"] is not None) == (level in {"video", "dual"})
    assert (out["frame"] is not None) == (level in {"frame", "dual"})
    if out["video"] is not None:
        assert out["video"].shape == (batch,)
    if out["frame"] is not None:
        assert out["frame"].shape == (batch, frames)

    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss, _ = DualLevelLoss(create_loss("auc"))(out, torch.tensor([1.0, 0.0]))
    assert torch.isfinite(loss)
    loss.backward()
    optimiser.step()
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    first_param = next(iter(before))  # the input end of the network learns too
    assert first_param in changed, f"{name}: {first_param} did not change"
    assert len(changed) >= len(before) // 2


@pytest.mark.parametrize("name", ["dual", "crnn", "capsule", "meso4"])
def test_model_rebuilds_from_its_recorded_options(name):
    """Checkpoints store model_options; rebuilding from them must give the same tensors."""
    model = create_model(name, **SMALL[name])
    rebuilt = create_model(name, **model.model_options)
    assert rebuilt.input_cfg == model.input_cfg
    own, other = model.state_dict(), rebuilt.state_dict()
    assert list(own) == list(other)
    assert all(own[k].shape == other[k].shape for k in own)


def test_dual_runs_the_backbone_once_over_all_frames_and_heads_follow_the_paper():
    model = create_model("dual", backbone="resnet18", hidden=16, layers=3).eval()
    assert isinstance(model.temporal, torch.nn.GRU)
    assert model.temporal.num_layers == 3 and model.temporal.batch_first
    assert model.video_head.in_features == 256 and model.frame_head.in_features == 16
    calls = []
    model.backbone.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    model(torch.randn(2, 5, 3, 32, 32))
    assert calls == [10]  # one batched call over B*T frames, no loop over time


def test_dual_defaults_are_the_papers():
    info = model_info("dual")
    assert info["level"] == "dual" and info["img_size"] == 64
    with torch.device("meta"):
        model = create_model("dual")
    assert model.model_options["backbone"] == "resnet50" and model.backbone.feat_dim == 2048
    assert (model.temporal.hidden_size, model.temporal.num_layers) == (256, 3)
    assert model.input_cfg["frames"] == 32


@pytest.mark.parametrize("temporal,head", [("bilstm", "dual"), ("lstm", "video"), ("gru", "frame")])
def test_dual_variants(temporal, head):
    model = create_model("dual", backbone="resnet18", temporal=temporal, head=head, hidden=8, layers=1, frequency="dct")
    out = model(torch.randn(1, 3, 3, 32, 32).contiguous())
    assert model.level == head
    assert (out["video"] is None) == (head == "frame")
    assert (out["frame"] is None) == (head == "video")
    if head == "frame":
        assert model.temporal is None


def test_dual_takes_any_timm_backbone_and_its_local_weights(tmp_path):
    import timm

    full = timm.create_model("mobilenetv3_small_050")  # a pre-logits head: 1024-d features
    torch.save(full.state_dict(), tmp_path / "mobilenet.pth")
    model = create_model("dual", backbone="mobilenetv3_small_050", hidden=8, layers=1,
                         weights_path=str(tmp_path / "mobilenet.pth"))
    assert model.backbone.feat_dim == 1024 and model.pretrained_source.startswith("local:")
    assert torch.equal(model.backbone.net.conv_stem.weight, full.conv_stem.weight)
    out = model(torch.randn(2, 2, 3, 32, 32))
    assert out["video"].shape == (2,) and out["frame"].shape == (2, 2)


def test_dual_channels_last_gives_the_same_logits():
    model = create_model("dual", backbone="resnet18", hidden=8, layers=1).eval()
    x = torch.randn(2, 2, 3, 32, 32)
    with torch.no_grad():
        plain = model(x)
        model.to(memory_format=torch.channels_last)
        fast = model(x)
    assert torch.allclose(plain["video"], fast["video"], atol=1e-4)
    assert torch.allclose(plain["frame"], fast["frame"], atol=1e-4)


def test_block_dct_matches_scipy_orthonormal_dct():
    from scipy.fft import dctn

    x = torch.randn(2, 3, 16, 24)
    coeffs = BlockDCT()(x)
    block = x[1, 2, 8:16, 16:24].numpy()
    np.testing.assert_allclose(coeffs[1, 2, 8:16, 16:24].numpy(), dctn(block, norm="ortho"), atol=1e-5)
    odd = BlockDCT()(torch.randn(1, 3, 20, 20))
    assert odd.shape == (1, 3, 20, 20)


def test_unknown_model_and_option_suggest_the_fix():
    with pytest.raises(UsageError, match="did you mean 'dual'"):
        create_model("dula")
    with pytest.raises(UsageError, match="does not take option backbone"):
        create_model("meso4", backbone="resnet18")
    with pytest.raises(DfdetectError, match="--temporal must be one of"):
        create_model("dual", backbone="resnet18", temporal="rnn")
    with pytest.raises(DfdetectError, match="unknown backbone 'resnet51'.*did you mean"):
        create_model("dual", backbone="resnet51")


def test_pretrained_download_failure_names_both_ways_out(tmp_path, monkeypatch):
    """The real torchvision download path runs; only the network itself is replaced by a failure."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    with pytest.raises(DfdetectError) as err:
        create_model("cnn", backbone="resnet18", pretrained=True)
    message = str(err.value)
    assert "--no-pretrained" in message and "--weights PATH" in message and "resnet18" in message
    assert "\n" not in message


def test_local_weights_load_into_the_backbone(tmp_path):
    torch.manual_seed(3)
    resnet = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(resnet.state_dict(), path)  # with its ImageNet fc, which is dropped
    model = create_model("dual", backbone="resnet18", hidden=8, layers=1, weights_path=str(path))
    assert torch.equal(model.backbone.net.conv1.weight, resnet.conv1.weight)
    assert model.pretrained is True and "weights_path" not in model.model_options

    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "resnet34.pth")
    with pytest.raises(DfdetectError, match="resnet34.pth"):
        create_model("dual", backbone="resnet18", weights_path=str(tmp_path / "resnet34.pth"))
    with pytest.raises(DfdetectError, match="not found"):
        create_model("cnn", backbone="resnet18", weights_path=str(tmp_path / "missing.pth"))


def test_models_command_lists_the_registry_as_json_and_table(runner):
    import json

    from dfdetect.cli import app

    result = runner.invoke(app, ["models", "meso*", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["meso4", "mesoinception4"]
    assert rows[0]["params"] == sum(p.numel() for p in create_model("meso4").parameters())
    assert rows[0]["level"] == "frame" and rows[0]["input"] == "32x3x256x256"

    table = runner.invoke(app, ["models", "dual"])
    assert table.exit_code == 0
    assert "26.07M" in table.stdout and "32x3x64x64" in table.stdout and "temporal=gru" in table.stdout
    assert "losses" not in table.stdout
    everything = runner.invoke(app, ["models", "--no-params"])
    assert everything.exit_code == 0 and "mesoinception4" in everything.stdout
    assert "pairwise AUC" in everything.stdout  # the loss registry is listed too
    assert runner.invoke(app, ["models", "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["models", "nothing*"]).exit_code == 2


def test_importing_the_model_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, dfdetect.models, dfdetect.training.losses, dfdetect.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_models_command_suggests_a_close_name_for_a_typo(runner):
    from dfdetect.cli import app

    result = runner.invoke(app, ["models", "dula", "--no-params"])
    assert result.exit_code == 2
    assert "did you mean 'dual'?" in result.output
