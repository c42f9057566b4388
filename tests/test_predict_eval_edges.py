"""`predict` and `eval` at the edges: failures that must come at once and as usage errors, crops
unlike the checkpoint's, ensembles named for what they are, and what a newcomer reads first."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dfdetect.cli import app
from dfdetect.prediction.predictor import CHECKPOINT_ENV

from _evaldata import save_tiny_checkpoint, write_test_set
from conftest import wide_runner

ENV = {CHECKPOINT_ENV: ""}
FAST = ["--frames", "4", "--size", "32", "--device", "cpu", "--format", "csv"]


def save_checkpoint_with(path: Path, name: str = "dual", extraction: dict | None = None, seed: int = 0) -> Path:
    """A tiny checkpoint of `name` (cnn on timm's test_resnet) that records its training crops."""
    from dfdetect.checkpoint import save_checkpoint
    from dfdetect.models import create_model

    import torch

    from conftest import TINY_DUAL

    torch.manual_seed(seed)
    options = dict(TINY_DUAL) if name == "dual" else {"backbone": "test_resnet"}
    model = create_model(name, img_size=32, frames=4, **options)
    cfg = dict(model.input_cfg)
    config = {"model": name, "model_options": options, "img_size": 32, "frames": 4, "mean": list(cfg["mean"]),
              "std": list(cfg["std"]), "pretrained": False, "loss": "bce"}
    if extraction:
        config["extraction"] = extraction
    save_checkpoint(path, model, config)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dfdetect.synth import make_clip

    root = tmp_path_factory.mktemp("edges")
    clip = make_clip(root / "videos" / "a.mp4", fake=False, seed=1, width=128, height=128, n_frames=6)
    run = save_tiny_checkpoint(root / "run" / "best.ckpt").parent
    test = write_test_set(root / "data", "test", [0, 1, 0, 1], seed=3)  # 32-px stacks
    return {"root": root, "clip": clip, "run": run, "test": test}


def error_line(result) -> str:
    """The `error: …` line (notes such as "no calibration" may come before it), with no traceback."""
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def predict(*args, env: dict | None = None):
    return wide_runner(**{**ENV, **(env or {})}).invoke(app, ["predict", *map(str, args)])


def test_explain_into_a_file_is_refused_before_any_video(media: dict) -> None:
    blocker = media["root"] / "cams-file"
    blocker.write_text("in the way")
    r = predict(media["clip"], "-c", media["run"], "--explain", blocker, *FAST)
    assert r.exit_code == 2, r.output  # like --frames-out: a usage error, at once
    assert "--explain" in error_line(r) and "is a file" in error_line(r)
    assert r.stdout == ""  # no video was scored first


def test_a_run_folder_without_best_ckpt_is_a_usage_error_naming_its_source(media: dict) -> None:
    empty = media["root"] / "not-a-run"
    empty.mkdir(exist_ok=True)
    r = predict(media["clip"], *FAST, env={CHECKPOINT_ENV: str(empty)})
    assert r.exit_code == 2, r.output
    assert f"{CHECKPOINT_ENV}={empty}: no best.ckpt in this folder" in error_line(r)
    r = predict(media["clip"], "-c", empty, *FAST)
    assert r.exit_code == 2 and f"--checkpoint {empty}: no best.ckpt" in error_line(r)
    r = predict(media["clip"], "-c", "", *FAST)
    assert r.exit_code == 2 and "--checkpoint '': empty" in error_line(r)
    r = wide_runner().invoke(app, ["eval", str(empty), str(media["test"]), "--device", "cpu"])
    assert r.exit_code == 2 and f"RUN {empty}: no best.ckpt" in error_line(r)


def test_empty_and_duplicate_ensemble_members_are_refused(media: dict) -> None:
    r = wide_runner().invoke(app, ["eval", str(media["run"]), str(media["test"]), "--ensemble", "", "--device", "cpu"])
    assert r.exit_code == 2 and "--ensemble '': empty" in error_line(r)
    # the RUN folder and its best.ckpt are one checkpoint: counted twice it would weigh double
    r = wide_runner().invoke(app, ["eval", str(media["run"]), str(media["test"]), "--ensemble",
                                   str(media["run"] / "best.ckpt"), "--device", "cpu"])
    assert r.exit_code == 2 and "the same checkpoint as" in error_line(r)
    r = predict(media["clip"], "-c", media["run"], "-c", media["run"], *FAST)
    assert r.exit_code == 2 and "the same checkpoint as" in error_line(r)


def test_an_ensemble_of_cnn_and_dual_is_titled_as_such(media: dict) -> None:
    root = media["root"]
    cnn = save_checkpoint_with(root / "mixed" / "cnn.ckpt", "cnn")
    dual = save_checkpoint_with(root / "mixed" / "dual.ckpt", "dual", seed=1)
    dual2 = save_checkpoint_with(root / "mixed" / "dual2.ckpt", "dual", seed=2)
    out, page = root / "mixed" / "results.csv", root / "mixed" / "report.html"
    r = wide_runner().invoke(app, ["eval", str(cnn), str(media["test"]), "--ensemble", str(dual), "--ensemble",
                                   str(dual2), "--out", str(out), "--report", str(page), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    title = "ensemble of 3: 1 × cnn + 2 × dual"
    assert title in r.stdout and "× cnn ·" not in r.stdout
    results = pd.read_csv(out, keep_default_na=False)
    assert set(results["model"]) == {title}
    assert results["members"].iloc[0] == f"{cnn} + {dual} + {dual2}"
    assert title in page.read_text(encoding="utf-8")


def test_eval_on_crops_of_another_size_or_scale_warns_and_refuses_large_gaps(media: dict) -> None:
    root = media["root"] / "crops"
    near = save_checkpoint_with(root / "near.ckpt", extraction={"size": 48, "scale": 1.3})
    far = save_checkpoint_with(root / "far.ckpt", extraction={"size": 80, "scale": 1.3})
    same = save_checkpoint_with(root / "same.ckpt", extraction={"size": 32, "scale": 1.3})
    # 32-px stacks (no size column: read from the stacks) against 48-px training crops: scored, with a warning
    r = wide_runner().invoke(app, ["eval", str(near), str(media["test"]), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "32-px crops, the checkpoint was trained on 48-px crops" in r.stderr and "--size 48" in r.stderr
    # 32-px crops for an 80-px model need 2.5× upsampling: refused before scoring
    r = wide_runner().invoke(app, ["eval", str(far), str(media["test"]), "--device", "cpu"])
    assert r.exit_code == 2 and "need more than 1.5× upsampling" in error_line(r)
    assert wide_runner().invoke(app, ["eval", str(same), str(media["test"]), "--device", "cpu"]).stderr.count("warning") == 0
    # a scale column (as extract writes it) 1.4 vs 1.3 warns; 2.0 is refused
    df = pd.read_csv(media["test"], dtype=str, keep_default_na=False)
    for scale, code in (("1.4", 0), ("2.0", 2)):
        path = media["test"].with_name(f"test_scale{scale}.csv")
        df.assign(scale=scale, size="32").to_csv(path, index=False)
        r = wide_runner().invoke(app, ["eval", str(same), str(path), "--device", "cpu"])
        assert r.exit_code == code, r.output
        assert f"crops at scale {float(scale):g}, the checkpoint was trained on scale 1.3" in r.stderr


def test_predict_size_and_scale_overrides_unlike_the_checkpoints_warn_or_are_refused(media: dict) -> None:
    ckpt = save_checkpoint_with(media["root"] / "crops" / "p.ckpt", extraction={"size": 48, "scale": 1.3})
    base = [media["clip"], "-c", ckpt, "--frames", "4", "--device", "cpu", "--format", "csv"]
    r = predict(*base)
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output  # the checkpoint's own crops
    r = predict(*base, "--size", "40", "--scale", "1.35")
    assert r.exit_code == 0, r.output
    assert "--scale 1.35 --size 40: crops at scale 1.35, the checkpoint was trained on scale 1.3" in r.stderr
    assert "40-px crops, the checkpoint was trained on 48-px crops" in r.stderr
    assert list(csv.DictReader(io.StringIO(r.stdout)))[0]["status"] == "ok"
    r = predict(*base, "--scale", "2")
    assert r.exit_code == 2 and "refused above a 10% difference" in error_line(r)
    r = predict(*base, "--size", "16")
    assert r.exit_code == 2 and "need more than 1.5× upsampling" in error_line(r)


@pytest.mark.parametrize("used, outcome", [
    ({"scale": 1.3, "size": 160}, "same"), ({"scale": 1.43}, "warn"), ({"scale": 1.17}, "warn"),
    ({"scale": 1.44}, "refuse"), ({"scale": 1.16}, "refuse"), ({"size": 224}, "warn"), ({"size": 107}, "warn"),
    ({"size": 106}, "refuse"), ({}, "same"),
])
def test_where_the_crop_line_sits(used: dict, outcome: str) -> None:
    from dfdetect.errors import UsageError
    from dfdetect.scoring.crops import check_crops

    config = {"extraction": {"scale": 1.3, "size": 160}}  # the bundled model's crops
    if outcome == "refuse":
        with pytest.raises(UsageError, match="refused"):
            check_crops(config, used, "here", "fix")
    else:
        assert len(check_crops(config, used, "here", "fix")) == (outcome == "warn")
    assert check_crops({"model": "reference"}, used, "here", "fix") == []  # nothing recorded: nothing to compare


def test_the_default_models_first_line_says_what_its_auc_is_and_how_to_read_the_score() -> None:
    from dfdetect.default_model import describe

    line = describe(threshold=0.5)
    assert "its recipe's out-of-fold video AUC on that sample is 0.79 [0.71, 0.87]" in line
    assert "not a measure of this model on your videos" in line
    assert "P(fake) at or above 0.5 (--threshold sets it) is called fake" in line


def test_predict_help_shows_the_default_model_and_no_as_extract() -> None:
    r = wide_runner().invoke(app, ["predict", "--help"])
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "from the bundled default model or your checkpoint" in text
    assert "dfdetect predict clip.mp4 # no --checkpoint: the bundled default model" in text
    assert "as extract" not in text
    face_line = next(line for line in r.stdout.splitlines() if "Face extraction and the model" in line)
    assert face_line.startswith(" Face extraction")  # not indented by the docstring's own indentation


def test_a_corrupted_default_model_in_a_checkout_says_restore_it_with_git(tmp_path: Path) -> None:
    from dfdetect.default_model import ASSETS, CHECKPOINT_FILE, default_checkpoint
    from dfdetect.errors import DfdetectError

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    checkout = tmp_path / "checkout"
    assets = checkout / "dfdetect" / "assets"
    shutil.copytree(ASSETS, assets)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'dfdetect'\n")
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    data = bytearray((assets / CHECKPOINT_FILE).read_bytes())
    data[100] ^= 0xFF
    (assets / CHECKPOINT_FILE).write_bytes(bytes(data))
    with pytest.raises(DfdetectError) as info:
        default_checkpoint(assets)
    assert f"git -C {checkout.resolve()} checkout -- dfdetect/assets/{CHECKPOINT_FILE}" in str(info.value)
    assert "pip install" not in str(info.value)
    # an installed copy (no checkout around it): reinstall
    installed = tmp_path / "site" / "dfdetect" / "assets"
    shutil.copytree(assets, installed)
    with pytest.raises(DfdetectError, match=r"pip install --force-reinstall dfdetect"):
        default_checkpoint(installed)
