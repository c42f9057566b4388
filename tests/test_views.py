"""Re-encoded views (`extract --reencode`): real libx264 re-encodes of synthetic clips, split keeps
them with their original in train/val (never in test), training draws one view per epoch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _extractdata import synth_clip
from conftest import error_line
from dfdetect.cli import app
from dfdetect.errors import UsageError
from dfdetect.extraction import ExtractOptions, run_extraction
from dfdetect.extraction.views import parse_reencode, view_crf

pytest.importorskip("imageio_ffmpeg")


def test_parse_reencode_accepts_both_spellings_and_refuses_bad_values() -> None:
    assert parse_reencode("crf=32,40") == (32, 40)
    assert parse_reencode(" 40 , 32, 40") == (40, 32)
    assert parse_reencode(None) == () and parse_reencode("") == ()
    assert view_crf("crf40") == 40 and view_crf("") is None
    for bad in ("52", "crf=abc", "32,,40", "-1"):
        with pytest.raises(UsageError, match="CRF values from 0 to 51"):
            parse_reencode(bad)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("views")
    for i in range(3):
        synth_clip(root / "videos" / "real" / f"r{i}.mp4", seed=i, n_frames=8)
        synth_clip(root / "videos" / "fake" / f"f{i}.mp4", seed=10 + i, fake=True, n_frames=8)
    rows = [{"path": str(p), "label": p.parent.name, "group": f"g{p.stem[1]}"} for p in sorted((root / "videos").rglob("*.mp4"))]
    pd.DataFrame(rows).to_csv(root / "list.csv", index=False)
    from dfdetect.extraction import gather_inputs

    items = gather_inputs([], csvs=[root / "list.csv"])
    summary = run_extraction(items, root / "data", ExtractOptions(frames=4, size=32), reencode=(40, 30))
    assert summary.error == 0, summary.errors
    return root / "data"


def test_views_are_rows_of_their_own_with_the_original_group_and_label(extracted: Path) -> None:
    df = pd.read_csv(extracted / "manifest.csv", dtype=str, keep_default_na=False)
    originals, views = df[df["view"] == ""], df[df["view"] != ""]
    assert len(originals) == 6 and len(views) == 12
    assert sorted(set(views["view"])) == ["crf30", "crf40"]
    for row in views.itertuples():
        source = originals.set_index("video_id").loc[row.source_id]
        assert row.video_id == f"{row.source_id}__{row.view}"
        assert (row.label, row.group, row.path) == (source.label, source.group, source.path)
        stack = np.load(extracted / row.faces_file)
        original = np.load(extracted / source.faces_file)
        assert stack.shape == original.shape
        # a real re-encode: the pixels differ from the original's, more at the higher CRF
        assert np.abs(stack.astype(int) - original.astype(int)).mean() > 0.1
        sidecar = json.loads((extracted / row.sidecar).read_text())
        assert sidecar["path"] == source.path  # recorded under the original, not the temporary copy
    assert not any((extracted / ".reencode").glob("*")), "temporary re-encodes must be removed"


def test_a_rerun_skips_finished_views_and_adds_new_crfs_only(extracted: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(extracted, data)
    from dfdetect.extraction import gather_inputs

    items = gather_inputs([], csvs=[extracted.parent / "list.csv"])
    again = run_extraction(items, data, ExtractOptions(frames=4, size=32), reencode=(40, 30))
    assert (again.skipped, again.ok) == (18, 0)
    more = run_extraction(gather_inputs([], csvs=[extracted.parent / "list.csv"]), data, ExtractOptions(frames=4, size=32), reencode=(20,))
    assert (more.skipped, more.ok) == (6, 6)


def test_split_keeps_views_with_their_video_in_train_or_val_and_out_of_test(extracted: Path, tmp_path: Path) -> None:
    from dfdetect.splitting import make_folds

    make_folds([extracted / "manifest.csv"], tmp_path / "folds", folds=3, val_size=0.5, seed=0)
    tested: list[str] = []
    for fold in sorted((tmp_path / "folds").glob("fold_*")):
        sets = {name: pd.read_csv(fold / f"{name}.csv", dtype=str, keep_default_na=False) for name in ("train", "val", "test")}
        assert (sets["test"]["view"] == "").all() if "view" in sets["test"] else True
        tested += sets["test"]["video_id"].tolist()
        for name in ("train", "val"):
            df = sets[name]
            originals = set(df.loc[df["view"] == "", "video_id"])
            views = df[df["view"] != ""]
            assert set(views["source_id"]) == originals  # every video brings both of its views
            assert len(views) == 2 * len(originals)
        groups = {n: set(df["group"]) for n, df in sets.items()}
        assert not (groups["train"] & groups["test"]) and not (groups["val"] & groups["test"])
    assert sorted(tested) == sorted(pd.read_csv(extracted / "manifest.csv", dtype=str, keep_default_na=False)
                                    .query("view == ''")["video_id"])


def test_training_draws_one_view_per_epoch_and_validation_sees_every_view(extracted: Path) -> None:
    from dfdetect.training.data import FaceStackDataset

    csv = extracted / "manifest.csv"
    train = FaceStackDataset(csv, frames=4, img_size=32, train=True, seed=0)
    assert len(train) == 6  # one item per video: an epoch costs what it did without views
    drawn = {train[(0, epoch)]["frames"].numpy().tobytes() for epoch in range(12)}
    assert len(drawn) == 3  # the original and its two views all come up
    assert len(FaceStackDataset(csv, frames=4, img_size=32, train=False)) == 18


def test_bad_reencode_is_one_line_and_writes_nothing(runner, tmp_path: Path) -> None:
    clip = synth_clip(tmp_path / "a.mp4", n_frames=4)
    result = runner.invoke(app, ["extract", str(clip), "--out", str(tmp_path / "out"), "--reencode", "crf=60"])
    assert result.exit_code == 2
    assert "--reencode" in error_line(result) and "0 to 51" in error_line(result)
    assert not (tmp_path / "out").exists()


def test_plain_split_writes_views_beside_train_and_val_only(extracted: Path, tmp_path: Path) -> None:
    import json as _json

    from dfdetect.splitting import make_splits

    make_splits([extracted / "manifest.csv"], tmp_path / "splits", test_size=0.34, val_size=0.34, test_ratios=["1:1"], seed=1)
    summary = _json.loads((tmp_path / "splits" / "splits.json").read_text())
    files = {f["file"]: f for f in summary["files"]}
    for name, info in files.items():
        df = pd.read_csv(tmp_path / "splits" / name, dtype=str, keep_default_na=False)
        views = df[df.get("view", pd.Series("", index=df.index)) != ""]
        assert info["n_real"] + info["n_fake"] == len(df) - len(views)  # counts are per video
        assert info["n_views"] == len(views)
        if name.startswith("test"):
            assert views.empty
        else:
            assert len(views) == 2 * (len(df) - len(views))


def test_missing_encoder_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    from conftest import wide_runner
    from dfdetect.robustness.ffmpeg import encoders, ffmpeg_exe

    clip = synth_clip(tmp_path / "a.mp4", n_frames=4)
    ffmpeg_exe.cache_clear(), encoders.cache_clear()
    try:  # an "ffmpeg" that lists no encoder at all
        result = wide_runner(IMAGEIO_FFMPEG_EXE="/bin/true").invoke(
            app, ["extract", str(clip), "--out", str(tmp_path / "out"), "--reencode", "40"])
    finally:
        ffmpeg_exe.cache_clear(), encoders.cache_clear()
    assert result.exit_code == 1, result.output
    assert "no libx264" in error_line(result) and "pip install imageio-ffmpeg" in error_line(result)
    assert not (tmp_path / "out").exists()


def test_a_killed_runs_temporary_copies_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    import os
    import subprocess

    from dfdetect.extraction.views import remove_stale_copies

    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"a.{dead.pid}.tmp.mp4").write_bytes(b"x")
    (tmp_path / f"b.{os.getpid()}.tmp.mp4").write_bytes(b"x")
    assert remove_stale_copies(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"b.{os.getpid()}.tmp.mp4"]
