"""A video's manifest row, from a fresh extraction or recovered from the files a killed run left.

A worker writes a video's stack, then its sidecar, each atomically; the manifest is rewritten
only every few seconds. A run killed with SIGKILL (the out-of-memory killer, a scheduler) thus
leaves finished stacks with no manifest row, or with the reservation row that says "started but
did not finish". `recover_row` rebuilds their row from the sidecar, so the next run keeps them
instead of extracting them again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dfdetect.extraction.inputs import VideoInput
from dfdetect.extraction.options import ExtractOptions, FaceExtraction, FrameRecord
from dfdetect.extraction.store import stack_is_complete
from dfdetect.manifest import STATUS_ERROR, STATUS_NO_FACE, STATUS_OK


def result_row(item: VideoInput, result: FaceExtraction, options: ExtractOptions) -> dict[str, str]:
    """The manifest row of one extracted (ok or no_face) video."""
    row = item.row()
    row.update({
        "frames": str(result.n_sampled), "faces": str(result.n_faces),
        # the length that was sampled: the decodable one when the container over-reports
        "source_frames": str(result.decoded_frames or result.frame_count or ""), "note": result.note,
        "fps": f"{result.fps:.3f}" if result.fps else "",
        "width": str(result.width or ""), "height": str(result.height or ""),
    })
    return finish_row(row, item, result.status, result.error, options)


def finish_row(row: dict[str, str], item: VideoInput, status: str, error: str, options: ExtractOptions) -> dict[str, str]:
    """Status, error, file and settings columns, the same for every outcome."""
    row.update({
        "status": status,
        "error": " ".join(str(error).split())[:300],
        "faces_file": f"faces/{item.video_id}.npy" if status == STATUS_OK else "",
        "sidecar": f"faces/{item.video_id}.json" if status != STATUS_ERROR else "",
        "detector": options.detector,
        "scale": f"{options.scale:g}",
        "size": str(options.size),
    })
    return row


def recover_row(item: VideoInput, out_dir: Path, options: ExtractOptions) -> dict[str, str] | None:
    """The row of a video a killed run finished but never recorded, or None.

    Only when its sidecar names this video and path, was made with these options, and (for an ok
    video) sits beside a whole stack of as many frames that it was written after."""
    faces = Path(out_dir) / "faces"
    sidecar, stack = faces / f"{item.video_id}.json", faces / f"{item.video_id}.npy"
    try:
        data: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
        frames = [FrameRecord(**f) for f in data.get("frames", [])]
    except (OSError, ValueError, TypeError):
        return None
    if (data.get("video_id") != item.video_id or data.get("path") != str(item.path)
            or data.get("options") != json.loads(json.dumps(options.to_dict()))):
        return None
    status = data.get("status")
    if status == STATUS_OK:
        # the sidecar comes after the stack: an older sidecar beside a newer stack proves nothing
        if not frames or not stack_is_complete(stack, len(frames)) or sidecar.stat().st_mtime_ns < stack.stat().st_mtime_ns:
            return None
    elif status != STATUS_NO_FACE or stack.exists():
        return None
    result = FaceExtraction(
        path=str(item.path), status=status, frames=frames, error=str(data.get("error") or ""),
        width=int(data.get("width") or 0), height=int(data.get("height") or 0), fps=float(data.get("fps") or 0.0),
        frame_count=int(data.get("frame_count") or 0), decoded_frames=int(data.get("decoded_frames") or 0),
        note=str(data.get("note") or ""),
    )
    return result_row(item, result, options)
