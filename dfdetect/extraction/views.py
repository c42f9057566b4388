"""Re-encoded views: extra face stacks of one video, re-encoded with H.264 first (`extract --reencode`).

A view is the same video after one more libx264 pass at a given CRF, as a video reaches users after
an upload or a messenger. Its manifest row carries `view` (`crf40`) and `source_id` (the original's
video_id) and shares the original's label and group, so `split` keeps all views of a video in one
set (train or val; test files hold originals only), and training draws one view per epoch.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from dfdetect.errors import UsageError
from dfdetect.extraction.inputs import VideoInput

VIEW_SEPARATOR = "__"
_CRF_VIEW = re.compile(r"^crf(\d{1,2})$")


def parse_reencode(text: str | None) -> tuple[int, ...]:
    """'32,40' or 'crf=32,40' -> (32, 40); '' or None -> (). CRF is x264's 0-51 quality scale."""
    if text is None or not str(text).strip():
        return ()
    body = str(text).strip().lower()
    if body.startswith("crf="):
        body = body[4:]
    crfs: list[int] = []
    for part in body.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 <= int(part) <= 51:
            raise UsageError(f"--reencode '{text}': give H.264 CRF values from 0 to 51, e.g. --reencode crf=32,40")
        if int(part) not in crfs:
            crfs.append(int(part))
    return tuple(crfs)


def view_name(crf: int) -> str:
    return f"crf{int(crf)}"


def view_crf(view: str) -> int | None:
    """The CRF of a view name ('crf40' -> 40), None for the original ('')."""
    match = _CRF_VIEW.match(view or "")
    return int(match.group(1)) if match else None


def add_views(items: Sequence[VideoInput], crfs: Sequence[int]) -> list[VideoInput]:
    """The items followed by one view item per (original, CRF); ids `<video_id>__crf<N>`."""
    originals = [it for it in items if not it.view]
    views = [
        replace(it, video_id=f"{it.video_id}{VIEW_SEPARATOR}{view_name(crf)}", view=view_name(crf),
                source_id=it.video_id, group=it.group or it.video_id)
        for crf in crfs for it in originals
    ]
    return list(items) + views


def reencoded_copy(item: VideoInput, work_dir: Path) -> Path:
    """Write the item's view (its video re-encoded at the view's CRF) to a temporary file in work_dir."""
    from dfdetect.robustness.ffmpeg import reencode_h264

    crf = view_crf(item.view)
    if crf is None:
        raise UsageError(f"{item.video_id}: unknown view '{item.view}' (views are crf<N>)")
    work_dir.mkdir(parents=True, exist_ok=True)
    dst = work_dir / f"{item.video_id}.{os.getpid()}.tmp.mp4"
    return reencode_h264(item.path, dst, crf)


def remove_stale_copies(work_dir: Path) -> int:
    """Delete temporary re-encodes left by killed runs (their pid is gone); another extract that is
    still running into the same DATA keeps its own. Returns how many were removed."""
    removed = 0
    for path in work_dir.glob("*.tmp.mp4") if work_dir.is_dir() else ():
        try:
            pid = int(path.name.rsplit(".", 3)[-3])
            os.kill(pid, 0)
            continue  # alive (or not ours to signal): keep
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError, IndexError):
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed
