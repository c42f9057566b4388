"""Standard dataset layouts (`dfdetect extract ROOT --dataset ff++|celeb-df|dfdc`).

Groups are the leakage unit (DESIGN.md): videos that share a group never straddle train and test.
- FaceForensics++: a fake `519_515` (515's face on 519's video) belongs with its target real
  video `519`. DeepFakeDetection fakes `01_02__scene__ID` belong with actor `01`'s real videos.
- Celeb-DF: grouped by the *target identity*. `Celeb-synthesis/id0_id1_0002.mp4` puts id1's face
  on `Celeb-real/id0_0002.mp4`, so it joins group `celeb-id0` with every real video of id0. This is
  stricter than tying it to the one source video (another id0 video in train would leak the same
  person, scene and lighting). Holding out the swapped-in identity (id1) as well would chain
  every identity into one group, so it is not done. YouTube-real videos are their own groups.
- DFDC: a FAKE's group is its `original` (from metadata.json); a REAL is its own group.
Official splits: FF++ splits/{train,val,test}.json pair lists when present; Celeb-DF's
List_of_testing_videos.txt marks `test` (every other video is `train`, the official protocol);
DFDC training parts define no split (left empty).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from dfdetect.errors import DfdetectError, UsageError
from dfdetect.extraction.inputs import VideoInput, is_video_file
from dfdetect.manifest import safe_video_id

DATASETS = ("ff++", "celeb-df", "dfdc")
FFPP_COMPRESSIONS = ("raw", "c23", "c40")
_FFPP_ORIGINAL_DIRS = {"youtube": "real", "actors": "real"}


def dataset_inputs(name: str, root: Path, *, compression: str = "c23") -> list[VideoInput]:
    if not root.is_dir():
        raise DfdetectError(f"{root}: no such dataset folder; pass the {name} root as INPUT")
    if name == "ff++":
        return ffpp_inputs(root, compression)
    if name == "celeb-df":
        return celebdf_inputs(root)
    if name == "dfdc":
        return dfdc_inputs(root)
    raise UsageError(f"unknown --dataset '{name}' (choose from {', '.join(DATASETS)})")


def _videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted((f for f in folder.iterdir() if f.is_file() and is_video_file(f)), key=lambda f: f.name)


# ---------------------------------------------------------------- FaceForensics++

def _ffpp_official_splits(root: Path) -> dict[str, str]:
    """Video-number -> split, from splits/{train,val,test}.json (lists of [target, source] pairs)."""
    split_of: dict[str, str] = {}
    for split in ("train", "val", "test"):
        for candidate in (root / "splits" / f"{split}.json", root / f"{split}.json"):
            if candidate.is_file():
                try:
                    pairs = json.loads(candidate.read_text())
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise DfdetectError(f"{candidate}: not a JSON list of pairs ({exc})") from None
                for pair in pairs:
                    for vid in pair:
                        split_of[str(vid)] = split
                break
    return split_of


def ffpp_inputs(root: Path, compression: str = "c23") -> list[VideoInput]:
    if compression not in FFPP_COMPRESSIONS:
        raise UsageError(f"unknown --compression '{compression}' (choose from {', '.join(FFPP_COMPRESSIONS)})")
    orig, manip = root / "original_sequences", root / "manipulated_sequences"
    if not orig.is_dir() and not manip.is_dir():
        raise DfdetectError(f"{root}: not a FaceForensics++ root (no original_sequences/ or manipulated_sequences/)")
    split_of = _ffpp_official_splits(root)
    items: list[VideoInput] = []
    folders: list[tuple[str, Path]] = [(kind, orig / kind / compression / "videos") for kind in _FFPP_ORIGINAL_DIRS]
    if manip.is_dir():
        folders += [(m.name, m / compression / "videos") for m in sorted(manip.iterdir()) if m.is_dir()]
    present = [f for _, f in folders if f.is_dir()]
    if not present:
        have = sorted({p.parent.name for p in root.glob("*_sequences/*/*/videos")})
        raise DfdetectError(
            f"{root}: no videos for --compression {compression}"
            + (f"; found {', '.join(have)}" if have else "; expected <sequences>/<method>/<c23|c40|raw>/videos")
        )
    for kind, folder in folders:
        for f in _videos(folder):
            stem = f.stem
            if kind in _FFPP_ORIGINAL_DIRS:
                label, method = 0, "real"
                group = f"ffpp-actor-{stem.split('__')[0]}" if kind == "actors" else stem
                split = split_of.get(stem, "")
            else:
                label, method = 1, kind
                if "__" in stem:  # DeepFakeDetection: 01_02__scene__ID, target actor 01
                    group = f"ffpp-actor-{stem.split('__')[0].split('_')[0]}"
                    split = ""
                else:
                    target = stem.split("_")[0]
                    group = target
                    split = split_of.get(target, "")
            items.append(VideoInput(f, safe_video_id(f, root), label, group, method, "ff++", split))
    return items


# ---------------------------------------------------------------- Celeb-DF

_CELEB_ID = re.compile(r"^(id\d+)_")


def _celebdf_test_list(root: Path) -> set[str] | None:
    """Paths (relative, '/'-separated) listed in List_of_testing_videos.txt: lines 'label path',
    where that file's own label convention is 1 = real (ignored: labels come from the folders)."""
    listing = root / "List_of_testing_videos.txt"
    if not listing.is_file():
        return None
    paths = set()
    for n, line in enumerate(listing.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise DfdetectError(f"{listing}:{n}: expected '<0|1> <folder/file.mp4>', got '{line.strip()}'")
        paths.add(parts[1].replace("\\", "/").lstrip("./"))
    return paths


def celebdf_inputs(root: Path) -> list[VideoInput]:
    folders = {"Celeb-real": (0, "real"), "YouTube-real": (0, "real"), "Celeb-synthesis": (1, "Celeb-synthesis")}
    if not any((root / name).is_dir() for name in folders):
        raise DfdetectError(f"{root}: not a Celeb-DF root (no Celeb-real/, YouTube-real/ or Celeb-synthesis/)")
    test = _celebdf_test_list(root)
    items = []
    for name, (label, method) in folders.items():
        for f in _videos(root / name):
            m = _CELEB_ID.match(f.stem)
            group = f"celeb-{m.group(1)}" if m and name != "YouTube-real" else f"celeb-youtube-{f.stem}"
            split = "" if test is None else ("test" if f"{name}/{f.name}" in test else "train")
            items.append(VideoInput(f, safe_video_id(f, root), label, group, method, "celeb-df", split))
    return items


# ---------------------------------------------------------------- DFDC

def dfdc_inputs(root: Path) -> list[VideoInput]:
    parts = sorted(p for p in root.glob("dfdc_train_part_*") if p.is_dir())
    if (root / "metadata.json").is_file():  # the root is itself one part
        parts = [root] + parts
    if not parts:
        raise DfdetectError(f"{root}: not a DFDC root (no dfdc_train_part_*/metadata.json)")
    items = []
    for part in parts:
        meta_path = part / "metadata.json"
        if not meta_path.is_file():
            raise DfdetectError(f"{part}: no metadata.json; every DFDC part needs its metadata.json")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DfdetectError(f"{meta_path}: not valid JSON ({exc})") from None
        for name in sorted(meta):
            entry = meta[name] or {}
            label_text = str(entry.get("label", "")).upper()
            if label_text not in ("FAKE", "REAL"):
                raise DfdetectError(f"{meta_path}: '{name}' has label '{entry.get('label')}', expected FAKE or REAL")
            f = part / name
            label = 1 if label_text == "FAKE" else 0
            original = entry.get("original") if label else None
            group = f"dfdc-{Path(original).stem}" if original else f"dfdc-{f.stem}"
            method = "DFDC" if label else "real"
            items.append(VideoInput(f, safe_video_id(f, root), label, group, method, "dfdc", ""))
    return items
