"""Identity-safe groups: a group is a connected component of identities (issue 8, item 3).

An FF++-shaped tree with two-way pairs (a_b and b_a) and a chain (a_b, b_c) goes through the real
`split`, and no identity may appear in two of train/val/test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfdetect.extraction import gather_inputs
from dfdetect.extraction.datasets import identity_groups
from dfdetect.manifest import MANIFEST_COLUMNS
from dfdetect.splitting import make_splits

# Two-way pairs, a chain 010_011, 011_012, 012_013 and one-way pairs: 9 identity components.
PAIRS = ["001_002", "002_001", "003_004", "004_003", "005_006", "006_005", "007_008", "008_007",
         "010_011", "011_012", "012_013", "020_021", "022_023", "024_025", "025_024", "026_027"]
REALS = sorted({p for pair in PAIRS for p in pair.split("_")})


def _touch(path: Path) -> None:
    # Inputs are only listed here, never decoded: any non-empty file with a video suffix will do.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")


def _ffpp_tree(root: Path) -> Path:
    for vid in REALS:
        _touch(root / "original_sequences/youtube/c23/videos" / f"{vid}.mp4")
    for method in ("Deepfakes", "FaceSwap"):
        for pair in PAIRS:
            _touch(root / "manipulated_sequences" / method / "c23/videos" / f"{pair}.mp4")
    return root


def _identities(stem: str) -> set[str]:
    return set(stem.split("_"))


def test_union_find_merges_chains_and_names_groups_by_their_smallest_identity():
    groups = identity_groups([("b",), ("a", "b"), ("c", "b"), ("d", "c"), ("x",), ("y", "x"), ("z",)])
    assert groups == ["a", "a", "a", "a", "x", "x", "z"]
    # The name does not depend on the order videos are listed in.
    assert identity_groups([("d", "c"), ("c", "b"), ("a", "b")]) == ["a", "a", "a"]


def test_ffpp_two_way_pairs_and_chains_share_one_group(tmp_path):
    items = gather_inputs([_ffpp_tree(tmp_path)], dataset="ff++")
    group_of = {}
    for it in items:
        for identity in _identities(it.path.stem):
            group_of.setdefault(identity, set()).add(it.group)
    # Every identity lives in exactly one group, whether it shows up as a real, a target or a source.
    assert all(len(g) == 1 for g in group_of.values()), group_of
    by_real = {ident: next(iter(g)) for ident, g in group_of.items()}
    assert by_real["001"] == by_real["002"] == "001"
    assert by_real["010"] == by_real["011"] == by_real["012"] == by_real["013"] == "010"
    assert by_real["020"] == by_real["021"] != by_real["022"]
    assert len(set(by_real.values())) == 9


def _manifest_from(items, data: Path) -> Path:
    (data / "faces").mkdir(parents=True)
    rows = []
    for it in items:
        row = {**dict.fromkeys(MANIFEST_COLUMNS, ""), **it.row()}
        np.save(data / "faces" / f"{it.video_id}.npy", np.zeros((2, 4, 4, 3), np.uint8))
        row.update(frames="2", faces="2", faces_file=f"faces/{it.video_id}.npy", status="ok")
        rows.append(row)
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(data / "manifest.csv", index=False)
    return data / "manifest.csv"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_split_of_an_ffpp_tree_never_puts_one_identity_in_two_sets(tmp_path, seed):
    items = gather_inputs([_ffpp_tree(tmp_path / "ffpp")], dataset="ff++")
    manifest = _manifest_from(items, tmp_path / "data")
    make_splits([manifest], tmp_path / "splits", test_size=0.25, val_size=0.15, test_ratios=[], seed=seed,
                resplit=True)
    seen: dict[str, str] = {}
    for set_name in ("train", "val", "test"):
        df = pd.read_csv(tmp_path / "splits" / f"{set_name}.csv", dtype=str, keep_default_na=False)
        assert len(df)
        for path in df["path"]:
            for identity in _identities(Path(path).stem):
                assert seen.setdefault(identity, set_name) == set_name, (
                    f"identity {identity} in {seen[identity]} and {set_name} (seed {seed})")
    assert set(seen) == set(REALS)


def test_ffpp_official_pair_splits_stay_whole(tmp_path):
    root = _ffpp_tree(tmp_path / "ffpp")
    (root / "splits").mkdir()
    (root / "splits/train.json").write_text(json.dumps([["001", "002"], ["010", "011"], ["012", "013"]]))
    (root / "splits/test.json").write_text(json.dumps([["003", "004"]]))
    items = {(it.method, it.path.stem): it for it in gather_inputs([root], dataset="ff++")}
    assert items[("Deepfakes", "002_001")].split == "train" and items[("real", "004")].split == "test"
    assert items[("Deepfakes", "011_012")].group == items[("real", "013")].group == "010"


def test_celebdf_fake_joins_both_identities_and_dfdc_fake_joins_its_original(tmp_path):
    celeb = tmp_path / "celeb"
    for rel in ("Celeb-real/id0_0000.mp4", "Celeb-real/id1_0001.mp4", "Celeb-real/id2_0000.mp4",
                "Celeb-real/id3_0000.mp4", "Celeb-synthesis/id0_id1_0000.mp4",
                "Celeb-synthesis/id1_id2_0001.mp4", "YouTube-real/00001.mp4"):
        _touch(celeb / rel)
    groups = {it.path.stem: it.group for it in gather_inputs([celeb], dataset="celeb-df")}
    assert groups["id0_0000"] == groups["id1_0001"] == groups["id2_0000"] == groups["id1_id2_0001"] == "celeb-id0"
    assert groups["id3_0000"] == "celeb-id3" and groups["00001"] == "celeb-youtube-00001"

    part = tmp_path / "dfdc" / "dfdc_train_part_0"
    for name in ("r1.mp4", "r2.mp4", "f1.mp4", "f2.mp4"):
        _touch(part / name)
    (part / "metadata.json").write_text(json.dumps({
        "r1.mp4": {"label": "REAL"}, "r2.mp4": {"label": "REAL"},
        "f1.mp4": {"label": "FAKE", "original": "r1.mp4"}, "f2.mp4": {"label": "FAKE", "original": "r1.mp4"},
    }))
    groups = {it.path.stem: it.group for it in gather_inputs([tmp_path / "dfdc"], dataset="dfdc")}
    assert groups == {"r1": "dfdc-r1", "f1": "dfdc-r1", "f2": "dfdc-r1", "r2": "dfdc-r2"}


def test_deepfakedetection_fakes_join_both_actors(tmp_path):
    root = tmp_path / "ffpp"
    _touch(root / "original_sequences/actors/c23/videos/01__walking.mp4")
    _touch(root / "original_sequences/actors/c23/videos/02__talking.mp4")
    _touch(root / "original_sequences/actors/c23/videos/03__talking.mp4")
    _touch(root / "manipulated_sequences/DeepFakeDetection/c23/videos/02_01__walking__ABCD.mp4")
    groups = {it.path.stem: it.group for it in gather_inputs([root], dataset="ff++")}
    assert groups["01__walking"] == groups["02__talking"] == groups["02_01__walking__ABCD"] == "ffpp-actor-01"
    assert groups["03__talking"] == "ffpp-actor-03"
