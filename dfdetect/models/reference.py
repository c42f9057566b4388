"""Checkpoints trained by the paper's public code, converted to `dual`.

That code saves {'model_state_dict': ...} (sometimes with a `module.` prefix from DataParallel):
- `cnn.*`: torchvision ResNet children as nn.Sequential (cnn.0 = conv1, cnn.1 = bn1,
  cnn.4..7 = layer1..layer4; ReLU, max-pool and avg-pool hold no weights);
- `rnn.*`: an nn.GRU (or LSTM), batch-first;
- `fc_cnn.*`: the frame head; `fc_rnn.*`: the video head on the 16x16-pooled sequence.

Which class its sigmoid means depends on the order in which classes first appear in the training
list (labels there are 0 = fake, 1 = real); the checkpoint saves it as `label_map`, the class
label of output index 0 and 1 (a two-element map is its own inverse, so either reading agrees).
`[1, 0]` (reals listed first, the default data script): index 1 is fake and the sigmoid already
means P(fake). `[0, 1]`: it means P(real), and we negate the last weight and bias of each head, so
sigmoid(-z) = 1 - sigmoid(z). Without a label_map we refuse rather than guess; the caller can say
`--reference-positive real|fake`.

Input: the reference data loader feeds the first `frame_size` (default 300) extracted frames of a
clip, padded with the last one, so the imported config records `frames: 300, sampling: "first"`.
A checkpoint trained video-only (its saved args say so) still holds the frame head the code always
builds, untrained; the config then records `frame_metrics: false`.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from dfdetect.errors import DfdetectError, UsageError

if TYPE_CHECKING:
    from torch import Tensor

_CNN_CHILDREN = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
_RESNET_DEPTHS = {
    ("basic", (2, 2, 2, 2)): "resnet18",
    ("basic", (3, 4, 6, 3)): "resnet34",
    ("bottleneck", (3, 4, 6, 3)): "resnet50",
    ("bottleneck", (3, 4, 23, 3)): "resnet101",
    ("bottleneck", (3, 8, 36, 3)): "resnet152",
}
_HEADS = ("fc_cnn", "fc_rnn")
REFERENCE_FRAMES = 300  # the reference code's default frame_size
POSITIVES = ("real", "fake")


def _state_dict(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    state = obj.get("model_state_dict", obj)
    if not isinstance(state, dict):
        return None
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def is_reference_checkpoint(obj: dict) -> bool:
    """True for the paper's checkpoint layout: cnn.*, rnn.* and at least one of fc_cnn/fc_rnn."""
    state = _state_dict(obj)
    if not state:
        return False
    roots = {key.split(".", 1)[0] for key in state}
    return "cnn" in roots and bool(roots & set(_HEADS)) and roots <= {"cnn", "rnn", *_HEADS}


def _infer_resnet(state: dict[str, "Tensor"]) -> str:
    blocks = []
    for child in ("4", "5", "6", "7"):
        ids = {int(m.group(1)) for k in state if (m := re.match(rf"cnn\.{child}\.(\d+)\.", k))}
        blocks.append(len(ids))
    kind = "bottleneck" if "cnn.4.0.conv3.weight" in state else "basic"
    arch = _RESNET_DEPTHS.get((kind, tuple(blocks)))
    if arch is None:
        raise DfdetectError(f"reference checkpoint: cnn.* is no torchvision ResNet ({kind} blocks {blocks})")
    return arch


def _infer_temporal(state: dict[str, "Tensor"]) -> dict[str, Any]:
    if "rnn.weight_hh_l0" not in state:
        raise DfdetectError("reference checkpoint: no rnn.weight_hh_l0, so the recurrent layer is unknown")
    rows, hidden = state["rnn.weight_hh_l0"].shape
    gates = rows // hidden
    if gates not in (3, 4):
        raise DfdetectError(f"reference checkpoint: rnn weight shape {tuple(state['rnn.weight_hh_l0'].shape)} is neither GRU nor LSTM")
    layers = len({k for k in state if re.fullmatch(r"rnn\.weight_ih_l\d+", k)})
    bidirectional = any(k.endswith("_reverse") for k in state if k.startswith("rnn."))
    temporal = ("bi" if bidirectional else "") + ("gru" if gates == 3 else "lstm")
    return {"temporal": temporal, "hidden": int(hidden), "layers": int(layers)}


def reference_positive(obj: dict, override: str | None = None) -> str:
    """What the reference model's positive output (sigmoid) means, "real" or "fake".

    Read from the checkpoint's `label_map`; `override` (--reference-positive) is needed when it
    is missing and must agree with it when present."""
    if override is not None and override not in POSITIVES:
        raise UsageError(f"--reference-positive must be real or fake, got '{override}'")
    label_map = obj.get("label_map") if isinstance(obj, dict) else None
    if label_map is None:
        if override is None:
            raise DfdetectError(
                "reference checkpoint has no label_map, so whether its output means real or fake is unknown; "
                "pass --reference-positive real|fake"
            )
        return override
    try:
        order = [int(v) for v in label_map]
    except (TypeError, ValueError):
        order = []
    if sorted(order) != [0, 1]:
        raise DfdetectError(f"reference checkpoint: label_map {label_map!r} is not [0, 1] or [1, 0]; "
                            "pass --reference-positive real|fake")
    positive = "fake" if order[1] == 0 else "real"  # reference labels: 0 = fake, 1 = real
    if override is not None and override != positive:
        raise DfdetectError(f"--reference-positive {override} contradicts the checkpoint's label_map "
                            f"{order} (positive = {positive}); drop the option")
    return positive


def trained_video_only(obj: dict) -> bool:
    """True when the checkpoint's saved training arguments say the frame head was not trained
    (`video_only`, or a frame-loss weight of 0, or mode/level 'video')."""
    args = obj.get("args") if isinstance(obj, dict) else None
    args = args if isinstance(args, dict) else obj if isinstance(obj, dict) else {}
    if args.get("video_only") is True:
        return True
    if str(args.get("mode", args.get("level", ""))).lower() == "video":
        return True
    weight = args.get("frame_weight")
    return isinstance(weight, (int, float)) and weight == 0


def reference_input_config() -> dict[str, Any]:
    """How the reference code fed its model: the first 300 frames, padded with the last."""
    return {"frames": REFERENCE_FRAMES, "sampling": "first"}


def convert_reference_checkpoint(obj: dict, positive: str | None = None) -> tuple[dict[str, "Tensor"], dict]:
    """Map a reference checkpoint onto `dual`: returns (state_dict, options) such that
    `create_model("dual", **options).load_state_dict(state_dict)` works (strictly) and the model's
    logits mean fake. Options also carry the backbone depth, heads and pooling inferred from shapes.
    `positive` overrides a missing label_map (see `reference_positive`)."""
    import torch


    state = _state_dict(obj)
    if not state or not is_reference_checkpoint(obj):
        raise DfdetectError("not a reference checkpoint (expected cnn.*, rnn.*, fc_cnn.*/fc_rnn.* keys)")
    state = {k: v for k, v in state.items() if torch.is_tensor(v)}
    options: dict[str, Any] = {"backbone": _infer_resnet(state)}
    has_rnn = any(k.startswith("rnn.") for k in state)
    has_frame, has_video = "fc_cnn.weight" in state, "fc_rnn.weight" in state
    if has_video and not has_rnn:
        raise DfdetectError("reference checkpoint: a video head (fc_rnn) without rnn.* weights")
    options["head"] = "dual" if has_frame and has_video else ("video" if has_video else "frame")
    if has_rnn and options["head"] != "frame":
        options.update(_infer_temporal(state))
    if has_video:
        side = math.isqrt(state["fc_rnn.weight"].shape[1])
        if side * side != state["fc_rnn.weight"].shape[1]:
            raise DfdetectError(f"reference checkpoint: fc_rnn takes {state['fc_rnn.weight'].shape[1]} inputs, not a square pool")
        options["pool"] = side
    if has_frame and options["head"] == "dual":
        temporal_dim = options["hidden"] * (2 if options["temporal"].startswith("bi") else 1)
        options["frame_source"] = "temporal" if state["fc_cnn.weight"].shape[1] == temporal_dim else "backbone"

    if options["head"] == "frame":
        feat_dim = 2048 if "cnn.4.0.conv3.weight" in state else 512
        if state["fc_cnn.weight"].shape[1] != feat_dim:
            raise DfdetectError("reference checkpoint: a frame head on the rnn without a video head is not supported")

    sign = -1.0 if reference_positive(obj, positive) == "real" else 1.0
    converted: dict[str, Tensor] = {}
    for key, value in state.items():
        root, rest = key.split(".", 1)
        if root == "cnn":
            child, tail = rest.split(".", 1)
            if child not in _CNN_CHILDREN:
                raise DfdetectError(f"reference checkpoint: unexpected backbone key '{key}'")
            converted[f"backbone.net.{_CNN_CHILDREN[child]}.{tail}"] = value
        elif root == "rnn":
            if options["head"] != "frame":
                converted[f"temporal.{rest}"] = value
        elif root in _HEADS:
            if rest not in ("weight", "bias"):
                raise DfdetectError(f"reference checkpoint: unexpected head key '{key}' (expected a single Linear)")
            # Negated when their sigmoid is P(real); ours must be P(fake).
            target = "frame_head" if root == "fc_cnn" else "video_head"
            converted[f"{target}.{rest}"] = sign * value
    return converted, options
