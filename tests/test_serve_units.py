"""The serve pieces without a server: content sniffing, path confinement, options, the job queue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from dfdetect.errors import UsageError
from dfdetect.serve.confine import confine_path
from dfdetect.serve.http_errors import ApiError
from dfdetect.serve.jobs import JobQueue
from dfdetect.serve.options import ServeOptions, is_loopback, read_token_file
from dfdetect.serve.uploads import check_video_file, display_name, looks_like_video, make_private_folder

from conftest import error_line, wide_runner


def test_videos_are_recognised_by_content_not_name(tmp_path: Path) -> None:
    from dfdetect.synth import make_clip

    clip = make_clip(tmp_path / "clip.mp4", fake=False, seed=0, width=64, height=64, n_frames=3)
    assert looks_like_video(clip.read_bytes()[:512]) == "mp4"
    renamed = tmp_path / "clip.txt"
    renamed.write_bytes(clip.read_bytes())
    assert check_video_file(renamed) == "mp4"
    assert looks_like_video(b"\x1a\x45\xdf\xa3" + bytes(40)) == "matroska"
    assert looks_like_video(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    for not_video in (b"hello world, plain text" * 4, b"\x89PNG\r\n\x1a\n" + bytes(64), b"%PDF-1.7\n" + bytes(64), b""):
        assert looks_like_video(not_video) is None
    text = tmp_path / "fake.mp4"
    text.write_text("not a video\n")
    with pytest.raises(ApiError) as err:
        check_video_file(text)
    assert err.value.status == 415 and err.value.fix
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(ApiError) as err:
        check_video_file(tmp_path / "empty.mp4")
    assert err.value.status == 400


def test_display_names_never_carry_a_path() -> None:
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\me\\clip.mp4") == "clip.mp4"
    assert display_name("") == display_name(None) == display_name("bad\x00name") == "upload"


def test_private_folder_is_for_this_user_only(tmp_path: Path) -> None:
    folder = make_private_folder(str(tmp_path))
    assert folder.parent == tmp_path and (folder.stat().st_mode & 0o777) == 0o700


def test_paths_stay_inside_the_allowed_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "a.mp4").write_bytes(b"x")
    (outside / "secret.mp4").write_bytes(b"x")
    (root / "out.mp4").symlink_to(outside / "secret.mp4")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "in.mp4").symlink_to(root / "sub" / "a.mp4")
    root = root.resolve()
    assert confine_path("sub/a.mp4", root) == ((root / "sub" / "a.mp4"), "sub/a.mp4")
    assert confine_path("in.mp4", root)[0] == root / "sub" / "a.mp4"  # a symlink that stays inside
    assert confine_path(str(root / "sub" / "a.mp4"), root)[0] == root / "sub" / "a.mp4"
    for bad, status in (("../outside/secret.mp4", 403), ("out.mp4", 403), ("outdir/secret.mp4", 403),
                        (str(outside / "secret.mp4"), 403), ("sub/../../outside/secret.mp4", 403),
                        ("../nowhere.mp4", 403), ("nowhere.mp4", 404), ("sub", 400), ("", 400), (None, 400),
                        ("a\x00b", 400)):
        with pytest.raises(ApiError) as err:
            confine_path(bad, root)
        assert err.value.status == status, (bad, err.value.error)
    with pytest.raises(ApiError) as err:
        confine_path("sub/a.mp4", None)
    assert err.value.status == 403


def test_options(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    (tmp_path / "t").write_text("  abc123 \n")
    assert read_token_file(tmp_path / "t") == "abc123"
    for content in ("", "\n  \n", "two words"):
        (tmp_path / "bad").write_text(content)
        with pytest.raises(UsageError):
            read_token_file(tmp_path / "bad")
    with pytest.raises(UsageError):
        read_token_file(tmp_path / "missing")
    with pytest.raises(UsageError):
        ServeOptions(workers=0).validate()


def test_queue_full_and_results_kept_for_a_bounded_number_and_time(tmp_path: Path) -> None:
    jobs = JobQueue(ServeOptions(queue_size=2, keep_jobs=2, keep_seconds=3600))  # no workers started
    files = [tmp_path / f"{i}.upload" for i in range(4)]
    for f in files:
        f.write_bytes(b"x")
    a = jobs.submit("a", files[0], keep=True)
    b = jobs.submit("b", files[1], keep=True)
    with pytest.raises(ApiError) as err:
        jobs.submit("c", files[2], keep=True)
    assert err.value.status == 503 and int(err.value.headers["Retry-After"]) >= 1
    assert not files[2].exists()  # a refused upload is deleted at once
    while not jobs.pending.empty():
        jobs.pending.get_nowait()
    c = jobs.submit("c", files[3], keep=True)
    assert jobs.get(a.id) is a and jobs.get(c.id) is c  # unfinished jobs are always kept
    for job in (a, b, c):
        job.finish("done", 200, {"fake_prob": 0.5})
        time.sleep(0.01)
    assert not files[0].exists() and not files[3].exists()  # uploads go when their job ends
    assert jobs.get(a.id) is None and jobs.get(b.id) is b and jobs.get(c.id) is c  # the oldest went
    jobs.options.keep_seconds = 0
    time.sleep(0.01)
    assert jobs.get(b.id) is None and jobs.get(c.id) is None


def test_cli_refuses_bad_options_in_one_line(tmp_path: Path) -> None:
    from dfdetect.cli import app

    runner = wide_runner(DFDETECT_CHECKPOINT="")
    r = runner.invoke(app, ["serve", "--token-file", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "--token-file" in error_line(r)
    r = runner.invoke(app, ["serve", "--allow-paths", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "--allow-paths" in error_line(r)
    r = runner.invoke(app, ["serve", "-c", str(tmp_path / "missing.ckpt")])
    assert r.exit_code == 2 and "missing.ckpt" in error_line(r)


def test_scoring_reports_progress_through_extraction_then_the_model(tmp_path: Path) -> None:
    from _extractdata import synth_clip
    from _servedata import tiny_serve_checkpoint
    from dfdetect.serve.worker import load_predictor, score_video

    ckpt = tiny_serve_checkpoint(tmp_path / "tiny.ckpt")
    predictor = load_predictor([str(ckpt)], "cpu", 1)
    clip = synth_clip(tmp_path / "a.mp4", n_frames=12)
    seen: list[float] = []
    result = score_video(predictor, str(clip), "a.mp4", False, seen.append)
    assert result["status"] == "ok"
    assert seen == sorted(seen) and seen[0] == 0.05 and seen[-1] == 1.0
    assert len([f for f in seen if 0.05 < f < 0.8]) >= 3  # per sampled frame, not only per stage
    assert predictor.progress is None  # not left behind for the next video
