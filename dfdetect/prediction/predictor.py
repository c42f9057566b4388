"""`dfdetect predict`: videos in, fake probabilities out, with the model and detector loaded once.

Each video goes through face extraction in memory (dfdetect.extraction.extract_faces, the same
detectors and options as `extract`) and then the model (dfdetect.scoring.inference). Videos are processed
one after another: on a small CPU the detector and the model each use every core, so overlapping
them in threads would only make them fight; benchmarks/predict_speed.py checks that the whole
costs no more than the sum of its parts.

Exit codes (the CLI maps `PredictSummary` onto them): 0 every video got a verdict; 1 some input
failed (unreadable, missing, or no face found), the others still reported, or the model gave a
non-finite score (that stops the batch: an error naming the video and the checkpoint, since
the model itself is broken); 2 usage error; 3 with
`--fail-on-fake` when any video is judged fake (3 wins over 1: a fake found is the more specific
outcome for a CI gate).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, TextIO

from dfdetect.errors import UsageError
from dfdetect.scoring.inference import ScoringOptions

if TYPE_CHECKING:
    from dfdetect.extraction import ExtractOptions

CHECKPOINT_ENV = "DFDETECT_CHECKPOINT"
EXIT_OK, EXIT_INPUT_FAILED, EXIT_USAGE, EXIT_FAKE_FOUND = 0, 1, 2, 3
RESULT_COLUMNS = ["path", "fake_prob", "verdict", "threshold", "frames", "faces", "status", "error"]


class PredictOptions(ScoringOptions):
    """Options of `dfdetect predict`."""


@dataclass
class VideoPrediction:
    path: str
    fake_prob: float | None
    verdict: str  # "fake", "real" or "" when the video could not be scored
    frames: int
    faces: int
    status: str  # ok | no_face | error
    error: str = ""
    frame_indices: list[int] = field(default_factory=list, repr=False)
    frame_probs: list[float] = field(default_factory=list, repr=False)
    detected: list[bool] = field(default_factory=list, repr=False)
    extract_seconds: float = 0.0
    model_seconds: float = 0.0
    fps: float = 0.0
    face_stack: Any = field(default=None, repr=False)  # (N, S, S, 3) uint8, kept only for --explain
    threshold: float | None = None  # the verdict's: --threshold, else the checkpoint's calibrated one, else 0.5

    @property
    def failed(self) -> bool:
        return self.fake_prob is None

    def record(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in RESULT_COLUMNS}
        d["fake_prob"] = None if self.fake_prob is None else round(float(self.fake_prob), 6)
        return d


@dataclass
class PredictSummary:
    n_videos: int = 0
    n_fake: int = 0
    n_real: int = 0
    n_failed: int = 0
    extract_seconds: float = 0.0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0

    def add(self, p: VideoPrediction) -> None:
        self.n_videos += 1
        self.n_failed += p.failed
        self.n_fake += p.verdict == "fake"
        self.n_real += p.verdict == "real"
        self.extract_seconds += p.extract_seconds
        self.model_seconds += p.model_seconds

    def exit_code(self, fail_on_fake: bool = False) -> int:
        if fail_on_fake and self.n_fake:
            return EXIT_FAKE_FOUND
        return EXIT_INPUT_FAILED if self.n_failed else EXIT_OK


def resolve_checkpoint(checkpoint: str | os.PathLike[str] | None) -> str:
    """--checkpoint, else $DFDETECT_CHECKPOINT, else the bundled default model (`default`)."""
    from dfdetect.default_model import DEFAULT_NAME

    value = str(checkpoint) if checkpoint else os.environ.get(CHECKPOINT_ENV, "").strip()
    return value or DEFAULT_NAME


def expand_inputs(args: Sequence[str], stdin: TextIO | None = None) -> list[str]:
    """Files, folders (recursive, video extensions) and '-' (paths on stdin, one per line).

    Missing paths are kept, so that they are reported as failed rows rather than stopping the
    batch.
    """
    from dfdetect.extraction import collect_videos

    out: list[str] = []
    for arg in args:
        if arg == "-":
            stream = stdin if stdin is not None else sys.stdin
            out += [line.strip() for line in stream if line.strip()]
        elif _is_dir(arg):
            out += [str(p) for p in collect_videos([arg])]
        else:
            out.append(arg)
    if not out:
        raise UsageError("no videos to score; pass files, folders, or '-' to read paths from stdin")
    return out


def shard_inputs(paths: Sequence[str], shard: tuple[int, int] | None) -> list[str]:
    """This shard's share of the inputs (`--shard i/n`): a stable hash of each path as listed,
    so n jobs given the same list score every video exactly once."""
    from dfdetect.sharding import shard_of

    if shard is None:
        return list(paths)
    return [p for p in paths if shard_of(str(p), shard[1]) == shard[0]]


def _is_dir(path: str) -> bool:
    try:
        return Path(path).is_dir()
    except OSError:  # a name too long: kept, and reported as an error row
        return False


def build_extract_options(config: dict[str, Any], **overrides: Any) -> "ExtractOptions":
    """ExtractOptions: CLI overrides (None = unset) > checkpoint's recorded settings > defaults."""
    from dfdetect.checkpoint import extraction_defaults
    from dfdetect.extraction import ExtractOptions

    names = {f.name for f in fields(ExtractOptions)}
    values = {k: v for k, v in extraction_defaults(config).items() if k in names}
    values.update({k: v for k, v in overrides.items() if v is not None and k in names})
    return ExtractOptions(**values)


class Predictor:
    """Holds the model, the scorer and the face detector for a whole batch of videos."""

    def __init__(self, checkpoint: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 options: PredictOptions | None = None,
                 extract_overrides: dict[str, Any] | None = None, model=None, config=None,
                 reference_positive: str | None = None) -> None:
        """`checkpoint` may list several: an ensemble, their probabilities averaged (dfdetect.scoring.ensemble)."""
        from dfdetect.device import select_device
        from dfdetect.scoring.ensemble import build_scorer, ensemble_config, load_members

        self.options = options or PredictOptions()
        self.device = select_device(self.options.device)
        names = [str(checkpoint)] if isinstance(checkpoint, (str, os.PathLike)) else [str(c) for c in checkpoint]
        if model is None:
            members = load_members(names, device=str(self.device), reference_positive=reference_positive)
        else:
            members = [(model, dict(config or {}))]
        self.checkpoint = " + ".join(names)
        self.model = members[0][0].to(self.device)
        self.config = ensemble_config(names, [cfg for _, cfg in members])
        self.scorer = build_scorer(members, names, self.device, self.options.aggregate, self.options.batch_size)
        from dataclasses import replace

        from dfdetect.scoring.inference import resolve_threshold

        # options.threshold None means "the calibrated one": resolved once, so every reader sees the one used
        self.options = replace(self.options, threshold=resolve_threshold(self.options.threshold, self.scorer))
        self.extract_options = build_extract_options(self.config, **{"device": self.options.device, **(extract_overrides or {})})
        self.crop_warnings = check_override_crops(self.config, extract_overrides or {})
        self._detector = None
        self.keep_faces = False  # --explain sets it: the stack then rides along on each prediction
        #: called with the fraction of a video's sampled frames extracted (serve's progress bar)
        self.progress: Callable[[float], None] | None = None

    @property
    def detector(self):
        if self._detector is None:
            from dfdetect.extraction import build_detector

            self._detector = build_detector(self.extract_options)
        return self._detector

    def score_video(self, path: str) -> VideoPrediction:
        from dfdetect.extraction import extract_faces

        start = time.perf_counter()
        try:
            is_file = Path(path).is_file()
        except OSError as exc:  # e.g. a name too long for the file system: an error row, the batch goes on
            return VideoPrediction(path, None, "", 0, 0, "error", exc.strerror or _one_line(exc))
        if not is_file:
            reason = "no such file" if not Path(path).exists() else "not a file"
            return VideoPrediction(path, None, "", 0, 0, "error", reason)
        try:
            ex = extract_faces(path, self.extract_options, detector=self.detector, progress=self.progress)
        except Exception as exc:  # one bad video must not stop the batch
            return VideoPrediction(path, None, "", 0, 0, "error", _one_line(exc),
                                   extract_seconds=time.perf_counter() - start)
        extract_seconds = time.perf_counter() - start
        n_sampled, n_faces = int(getattr(ex, "n_sampled", 0) or 0), int(getattr(ex, "n_faces", 0) or 0)
        if ex.status != "ok" or ex.faces is None or len(ex.faces) == 0:
            status = ex.status if ex.status != "ok" else "no_face"
            return VideoPrediction(path, None, "", n_sampled, n_faces, status, ex.error or "no face found",
                                   extract_seconds=extract_seconds)
        before = self.scorer.forward_seconds
        (_, prob, frame_probs), = self.scorer.score_many([(path, ex.faces)])
        model_seconds = self.scorer.forward_seconds - before
        from dfdetect.scoring.inference import check_finite

        check_finite(path, prob, frame_probs, self.checkpoint)  # raises: a broken model stops the batch
        records = list(getattr(ex, "frames", []) or [])
        indices = [int(getattr(r, "index", i)) for i, r in enumerate(records)]
        if len(indices) != len(ex.faces):
            indices = list(range(len(ex.faces)))
        detected = [getattr(r, "source", "detected") == "detected" for r in records][: len(indices)]
        verdict = "fake" if prob >= self.options.threshold else "real"
        return VideoPrediction(path, float(prob), verdict, n_sampled or len(ex.faces), n_faces, "ok", "",
                               indices, [float(p) for p in frame_probs], detected,
                               extract_seconds, model_seconds, float(getattr(ex, "fps", 0.0) or 0.0),
                               ex.faces if self.keep_faces else None)

    def predict_many(self, paths: Iterable[str]) -> Iterator[VideoPrediction]:
        for path in paths:
            yield self.predict_one(path)

    def predict_one(self, path: str) -> VideoPrediction:
        """One video's prediction, carrying the threshold its verdict used."""
        pred = self.score_video(path)
        pred.threshold = self.options.threshold
        return pred


def check_override_crops(config: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    """--scale/--size that differ from the checkpoint's training crops: warnings, or a UsageError
    where the gap is large (dfdetect.scoring.crops says where the line is)."""
    from dfdetect.scoring.crops import check_crops

    given = {k: overrides[k] for k in ("scale", "size") if overrides.get(k) is not None}
    if not given:
        return []
    where = " ".join(f"--{k} {v:g}" for k, v in given.items())
    return check_crops(config, given, where, "drop the option to use the checkpoint's crops")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
