"""`--allow-paths DIR`: score files on shared storage by path, never anything outside DIR."""

from __future__ import annotations

import os
from pathlib import Path

from dfdetect.serve.http_errors import ApiError


def confine_path(requested: object, root: Path | None) -> tuple[Path, str]:
    """(the real path to score, the name to show) for a requested path under ROOT.

    The path is taken relative to ROOT (an absolute one must already lie in it) and resolved with
    every symlink followed; what it resolves to must still be inside ROOT and be a regular file.
    So `../x`, `/etc/passwd` and a symlink pointing out of ROOT are all refused with 403.
    The resolved path is what gets opened, so a symlink swapped in between is not followed again."""
    if root is None:
        raise ApiError(403, "scoring by path is off on this server",
                       "upload the file instead, or start the server with --allow-paths DIR")
    if not isinstance(requested, str) or not requested.strip() or "\x00" in requested:
        raise ApiError(400, "`path` must be a non-empty string", 'send {"path": "relative/to/DIR/clip.mp4"}')
    candidate = Path(requested) if os.path.isabs(requested) else root / requested
    # Lexically first, before the file system is asked anything: `..` anywhere, or an absolute
    # path elsewhere, is refused outright (and says nothing about what exists outside ROOT).
    if ".." in Path(requested).parts or not _inside(Path(os.path.normpath(candidate)), root):
        raise ApiError(403, f"{requested}: outside the allowed folder",
                       "only files under the server's --allow-paths folder can be scored by path")
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, a name too long
        raise ApiError(404, f"no such file under the allowed folder: {requested}",
                       "give a path relative to the --allow-paths folder") from None
    if not _inside(real, root):
        raise ApiError(403, f"{requested}: outside the allowed folder",
                       "only files under the server's --allow-paths folder can be scored by path")
    if not real.is_file():
        raise ApiError(400, f"{requested}: not a file", "give the path of a video file")
    return real, str(requested)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
