"""Inputs of `dfdetect extract`: files, folders, CSV lists and the FF++/Celeb-DF/DFDC layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from _extractdata import synth_clip
from dfdetect.errors import DfdetectError, UsageError
from dfdetect.extraction import ExtractOptions, collect_videos, gather_inputs, run_extraction
from dfdetect.manifest import read_manifest


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return synth_clip(tmp_path_factory.mktemp("clips") / "c.mp4", n_frames=6, width=128, height=128)


def _place(src: Path, *paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, p)


def _by_name(items):
    return {it.path.stem: it for it in items}


def test_folders_are_searched_recursively_in_a_stable_order(tmp_path, clip):
    _place(clip, tmp_path / "b" / "x.mp4", tmp_path / "a" / "x.MP4", tmp_path / "a" / "z.avi")
    (tmp_path / "a" / "notes.txt").write_text("not a video")
    (tmp_path / ".hidden").mkdir()
    _place(clip, tmp_path / ".hidden" / "h.mp4")
    found = collect_videos([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/x.MP4", "a/z.avi", "b/x.mp4"]


def test_plain_inputs_get_unique_safe_ids_labels_and_own_groups(tmp_path, clip):
    _place(clip, tmp_path / "one" / "a.mp4", tmp_path / "two" / "a.mp4", tmp_path / "d" / "sub" / "a.mp4")
    items = gather_inputs([tmp_path / "one" / "a.mp4", tmp_path / "two" / "a.mp4", tmp_path / "d"], label="fake")
    ids = [it.video_id for it in items]
    assert len(set(ids)) == 3 and ids[0] == "a" and ids[2] == "sub__a"
    assert all("/" not in i and ".." not in i for i in ids)
    assert {it.label for it in items} == {1}
    assert all(it.row()["group"] == it.video_id for it in items)
    assert gather_inputs([tmp_path / "d"])[0].label is None  # unknown without --label


def test_csv_list_resolves_relative_paths_against_the_csv(tmp_path, clip):
    _place(clip, tmp_path / "lists" / "vids" / "r.mp4", tmp_path / "elsewhere" / "f.mp4")
    csv = tmp_path / "lists" / "videos.csv"
    pd.DataFrame({
        "path": ["vids/r.mp4", str(tmp_path / "elsewhere" / "f.mp4")],
        "label": ["real", "1"], "group": ["g1", "g1"], "method": ["", "Deepfakes"],
    }).to_csv(csv, index=False)
    items = gather_inputs(csvs=[csv])
    assert items[0].path == (tmp_path / "lists" / "vids" / "r.mp4").resolve()
    assert [it.label for it in items] == [0, 1] and [it.group for it in items] == ["g1", "g1"]
    assert items[1].method == "Deepfakes"
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"path": ["x.mp4"], "label": ["maybe"]}).to_csv(bad, index=False)
    with pytest.raises(DfdetectError, match="bad.csv:2"):
        gather_inputs(csvs=[bad])


def test_a_csv_given_as_an_input_is_read_as_a_video_list(tmp_path, clip):
    _place(clip, tmp_path / "vids" / "r.mp4", tmp_path / "vids" / "f.mp4")
    csv = tmp_path / "videos.csv"
    pd.DataFrame({"path": ["vids/r.mp4", "vids/f.mp4"], "label": ["real", "fake"]}).to_csv(csv, index=False)
    items = gather_inputs([csv])
    assert [it.path.name for it in items] == ["r.mp4", "f.mp4"]
    assert [it.label for it in items] == [0, 1]


def _ffpp_tree(root: Path, clip: Path) -> None:
    for vid in ("519", "515", "001", "002"):
        _place(clip, root / "original_sequences/youtube/c23/videos" / f"{vid}.mp4")
    _place(clip, root / "original_sequences/youtube/c40/videos/519.mp4")
    for method in ("Deepfakes", "Face2Face"):
        for pair in ("519_515", "515_519", "001_002"):
            _place(clip, root / "manipulated_sequences" / method / "c23/videos" / f"{pair}.mp4")
    (root / "splits").mkdir()
    (root / "splits/train.json").write_text(json.dumps([["519", "515"]]))
    (root / "splits/test.json").write_text(json.dumps([["001", "002"]]))


def test_ffpp_layout_groups_fakes_with_both_identities_and_reads_official_splits(tmp_path, clip):
    _ffpp_tree(tmp_path, clip)
    items = gather_inputs([tmp_path], dataset="ff++")
    assert len(items) == 4 + 6  # c23 only
    fakes = [it for it in items if it.label == 1]
    f = next(it for it in fakes if it.path.stem == "519_515" and it.method == "Deepfakes")
    assert f.group == "515" and f.split == "train" and f.dataset == "ff++"
    real = next(it for it in items if it.path.stem == "519")
    assert real.label == 0 and real.group == "515" and real.method == "real"
    assert {it.split for it in items if it.path.stem.startswith(("001", "002"))} == {"test"}
    assert len({it.video_id for it in items}) == len(items)
    c40 = gather_inputs([tmp_path], dataset="ff++", compression="c40")
    assert [it.path.stem for it in c40] == ["519"]
    with pytest.raises(DfdetectError, match="c23, c40"):
        gather_inputs([tmp_path], dataset="ff++", compression="raw")


def test_celebdf_layout_groups_by_identity_component_and_marks_the_test_list(tmp_path, clip):
    _place(clip, tmp_path / "Celeb-real/id0_0002.mp4", tmp_path / "Celeb-real/id1_0000.mp4",
           tmp_path / "Celeb-synthesis/id0_id1_0002.mp4", tmp_path / "YouTube-real/00170.mp4")
    # In this file 1 means real (the opposite of ours); labels come from the folders anyway.
    (tmp_path / "List_of_testing_videos.txt").write_text("1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id1_0002.mp4\n")
    items = _by_name(gather_inputs([tmp_path], dataset="celeb-df"))
    fake = items["id0_id1_0002"]
    assert fake.label == 1 and fake.group == items["id0_0002"].group == "celeb-id0"
    assert items["id1_0000"].group == "celeb-id0"  # id1's face is in id0_id1_0002
    assert items["00170"].label == 0 and items["00170"].split == "test" and fake.split == "test"
    assert items["id0_0002"].split == "train"


def test_dfdc_layout_uses_metadata_labels_and_original_as_group(tmp_path, clip):
    part = tmp_path / "dfdc_train_part_0"
    _place(clip, part / "aaa.mp4", part / "bbb.mp4")
    (part / "metadata.json").write_text(json.dumps({
        "aaa.mp4": {"label": "REAL", "split": "train", "original": None},
        "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
    }))
    items = _by_name(gather_inputs([tmp_path], dataset="dfdc"))
    assert items["aaa"].label == 0 and items["bbb"].label == 1
    assert items["bbb"].group == items["aaa"].group == "dfdc-aaa"
    assert items["bbb"].video_id == "dfdc_train_part_0__bbb"


def test_dataset_errors_are_one_line_and_name_the_fix(tmp_path):
    with pytest.raises(DfdetectError, match="not a Celeb-DF root"):
        gather_inputs([tmp_path], dataset="celeb-df")
    with pytest.raises(UsageError, match="unknown --dataset"):
        gather_inputs([tmp_path], dataset="ffpp")
    with pytest.raises(UsageError, match="--label does not apply"):
        gather_inputs([tmp_path], dataset="dfdc", label="fake")


def test_ffpp_tree_extracts_end_to_end(tmp_path, clip):
    root = tmp_path / "ffpp"
    _place(clip, root / "original_sequences/youtube/c23/videos/519.mp4",
           root / "manipulated_sequences/Deepfakes/c23/videos/519_515.mp4")
    items = gather_inputs([root], dataset="ff++")
    summary = run_extraction(items, tmp_path / "data", ExtractOptions(frames=2, size=32))
    assert (summary.ok, summary.error) == (2, 0)
    df = read_manifest(tmp_path / "data" / "manifest.csv")
    assert sorted(df["group"]) == ["515", "515"] and sorted(df["label"]) == ["0", "1"]
    assert set(df["dataset"]) == {"ff++"} and set(df["method"]) == {"real", "Deepfakes"}
