"""`train --freeze K`: the stem and first K backbone stages keep their weights and BN statistics."""

from __future__ import annotations

import pytest
import torch

from dfdetect.errors import UsageError
from dfdetect.models import create_model
from dfdetect.models.freezing import backbone_stages, freeze_stages


@pytest.mark.parametrize("model, backbone, stages", [("cnn", "efficientnet_lite0", 8), ("dual", "resnet18", 5)])
def test_frozen_stages_do_not_change_in_training(model, backbone, stages):
    torch.manual_seed(0)
    net = create_model(model, pretrained=False, backbone=backbone, frames=2, img_size=32)
    assert len(backbone_stages(net)) == stages
    frozen = freeze_stages(net, 2)
    stem_and_two = [m for group in backbone_stages(net)[:3] for m in group]
    assert frozen == sum(p.numel() for m in stem_and_two for p in m.parameters())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    assert all(not m.training for m in stem_and_two for m in m.modules())
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    out = net(torch.randn(2, 2, 3, 32, 32))
    logits = out["video"] if out.get("video") is not None else out["frame"]
    logits.sum().backward()
    opt.step()
    after = net.state_dict()
    frozen_keys = {f"{name}.{k}" for name, mod in net.named_modules() if any(mod is m for m in stem_and_two)
                   for k in mod.state_dict()}
    assert frozen_keys
    for key in frozen_keys:  # weights and BatchNorm running statistics alike
        assert torch.equal(before[key], after[key]), key
    changed = [k for k in after if k not in frozen_keys and not torch.equal(before[k], after[k])]
    assert changed  # the rest of the network did learn


def test_freeze_errors_name_the_fix():
    net = create_model("meso4", pretrained=False, frames=2, img_size=32)
    with pytest.raises(UsageError, match="--freeze needs a ResNet or EfficientNet"):
        freeze_stages(net, 1)
    net = create_model("cnn", pretrained=False, backbone="resnet18", frames=2, img_size=32)
    with pytest.raises(UsageError, match="--freeze 9: this backbone has 4 stages"):
        freeze_stages(net, 9)
