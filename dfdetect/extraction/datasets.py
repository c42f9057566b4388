"""Standard dataset layouts (`dfdetect extract ROOT --dataset ff++|celeb-df|dfdc`).

Groups are the leakage unit (docs/formats.md): videos that share a group never straddle train and test.
A group is a connected component of identities: every identity a video shows joins its group, so
a person seen in train (as a real video, or as the face swapped into someone else's) is never in
test. `identity_groups` does the union over every video of a layout.
- FaceForensics++: a fake `519_515` (515's face on 519's video) joins identities 519 and 515; with
  the pairs both ways (`519_515`, `515_519`) and chains (`a_b`, `b_c`) that merges them all.
  DeepFakeDetection fakes `01_02__scene__ID` join actors 01 and 02.
- Celeb-DF: `Celeb-synthesis/id0_id1_0002.mp4` joins id0 and id1; `Celeb-real/id0_0002.mp4` belongs
  to id0. YouTube-real videos are their own groups.
- DFDC: a FAKE joins its `original` (from metadata.json); a REAL is its own identity.
A group is named after the smallest identity in it (`033`, `celeb-id0`, `dfdc-aaa`).
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


def identity_groups(identities: list[tuple[str, ...]]) -> list[str]:
    """Per video, the name of its identity component (union-find over all videos' identities).

    identities[k] lists every identity video k shows (a real: its own; a fake: target and
    source). The component is named by its smallest identity, so the name does not depend on
    the order in which videos were listed.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for ids in identities:
        roots = [find(i) for i in ids]
        for r in roots[1:]:
            a, b = sorted((find(roots[0]), find(r)))
            parent[b] = a  # the smaller name stays the root
    return [find(ids[0]) for ids in identities]


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
    identities: list[tuple[str, ...]] = []
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
                ids: tuple[str, ...] = (_ffpp_actor(stem),) if kind == "actors" else (stem,)
                split = split_of.get(stem, "")
            else:
                label, method = 1, kind
                if "__" in stem:  # DeepFakeDetection: 01_02__scene__ID, actor 02's face on actor 01
                    ids = tuple(_ffpp_actor(a) for a in stem.split("__")[0].split("_") if a)
                    split = ""
                else:  # target_source
                    ids = tuple(p for p in stem.split("_") if p) or (stem,)
                    split = split_of.get(ids[0], "")
            identities.append(ids)
            items.append(VideoInput(f, safe_video_id(f, root), label, "", method, "ff++", split))
    for item, group in zip(items, identity_groups(identities)):
        item.group = group
    return items


def _ffpp_actor(name: str) -> str:
    return f"ffpp-actor-{name.split('__')[0]}"


# ---------------------------------------------------------------- Celeb-DF

_CELEB_ID = re.compile(r"^(id\d+)_")
_CELEB_PAIR = re.compile(r"^(id\d+)_(id\d+)_")


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
    items: list[VideoInput] = []
    identities: list[tuple[str, ...]] = []
    for name, (label, method) in folders.items():
        for f in _videos(root / name):
            pair, single = _CELEB_PAIR.match(f.stem), _CELEB_ID.match(f.stem)
            if name == "YouTube-real" or not (pair or single):
                ids: tuple[str, ...] = (f"celeb-youtube-{f.stem}",)
            elif pair and label == 1:  # target id0, swapped-in id1
                ids = (f"celeb-{pair.group(1)}", f"celeb-{pair.group(2)}")
            else:
                ids = (f"celeb-{single.group(1)}",)
            identities.append(ids)
            split = "" if test is None else ("test" if f"{name}/{f.name}" in test else "train")
            items.append(VideoInput(f, safe_video_id(f, root), label, "", method, "celeb-df", split))
    for item, group in zip(items, identity_groups(identities)):
        item.group = group
    return items


# ---------------------------------------------------------------- DFDC

def dfdc_inputs(root: Path) -> list[VideoInput]:
    parts = sorted(p for p in root.glob("dfdc_train_part_*") if p.is_dir())
    if (root / "metadata.json").is_file():  # the root is itself one part
        parts = [root] + parts
    if not parts:
        raise DfdetectError(f"{root}: not a DFDC root (no dfdc_train_part_*/metadata.json)")
    items: list[VideoInput] = []
    identities: list[tuple[str, ...]] = []
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
            # A fake shows its original's person; DFDC does not name the swapped-in face's video.
            identities.append((f"dfdc-{Path(original).stem}",) if original else (f"dfdc-{f.stem}",))
            method = "DFDC" if label else "real"
            items.append(VideoInput(f, safe_video_id(f, root), label, "", method, "dfdc", ""))
    for item, group in zip(items, identity_groups(identities)):
        item.group = group
    return items
