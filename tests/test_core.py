"""The shared pieces: registry, device helper, manifest helpers, global CLI options."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pandas as pd
import pytest

from conftest import wide_runner
from dfdetect import __version__
from dfdetect.cli import app
from dfdetect.device import select_device, validate_device_string
from dfdetect.errors import DfdetectError, UsageError
from dfdetect.manifest import (
    MANIFEST_COLUMNS,
    parse_label,
    read_manifest,
    resolve_faces_path,
    safe_video_id,
    write_csv_atomic,
)
from dfdetect.registry import Registry

runner = wide_runner()


def test_registry_lists_sorted_and_filters_with_fnmatch():
    reg: Registry = Registry("thing")
    for name in ["resnet50", "dual", "resnet18"]:
        reg.register(name)(lambda: None)
    assert reg.names() == ["dual", "resnet18", "resnet50"]
    assert reg.names("res*") == ["resnet18", "resnet50"]
    assert "dual" in reg and "x" not in reg


def test_registry_unknown_name_suggests_close_match():
    reg: Registry = Registry("model")
    reg.register("dual")(lambda: None)
    with pytest.raises(UsageError, match=r"unknown model 'dula'; did you mean 'dual'\?"):
        reg.get("dula")


def test_registry_duplicate_registration_warns():
    reg: Registry = Registry("loss")
    reg.register("auc")(lambda: 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.register("auc")(lambda: 2)
    assert any("registered twice" in str(w.message) for w in caught)
    assert reg.get("auc")() == 2


@pytest.mark.parametrize("spec", ["auto", "cpu", "cuda", "cuda:1", "mps", "0"])
def test_device_strings_accepted(spec):
    assert validate_device_string(spec) == spec


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "tpu", "cpu0"])
def test_device_strings_rejected(spec):
    with pytest.raises(UsageError, match="invalid --device"):
        validate_device_string(spec)


def test_select_device_cpu_and_auto_fallback():
    import torch

    assert select_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert select_device("auto").type == expected


def test_select_device_unavailable_cuda_names_what_is_available():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(UsageError, match=r"available: cpu"):
        select_device("cuda:0")


@pytest.mark.parametrize(
    "path",
    ["a b/c d.mp4", "../../etc/passwd.mp4", "vidéo_ünïcode.mp4", "..mp4", "x/../y.mp4", "日本語.mp4", "a\\b.mp4"],
)
def test_safe_video_id_is_filesystem_safe(path):
    vid = safe_video_id(path)
    assert "/" not in vid and ".." not in vid and "\\" not in vid
    assert vid and vid.isascii() and not vid.startswith(".")


def test_safe_video_id_distinguishes_paths_that_clean_to_the_same_text():
    assert safe_video_id("a b.mp4") != safe_video_id("a_b.mp4")
    assert safe_video_id("clip.mp4") == "clip"
    assert safe_video_id("/data/ff/000.mp4", root="/data") == "ff__000"


@pytest.mark.parametrize("value,expected", [("fake", 1), ("1", 1), (0, 0), ("real", 0), ("", None), (float("nan"), None)])
def test_parse_label(value, expected):
    assert parse_label(value) == expected


def test_parse_label_rejects_other_values():
    with pytest.raises(DfdetectError, match="neither"):
        parse_label("maybe")


def test_manifest_roundtrip_and_path_rule(tmp_path):
    df = pd.DataFrame([{c: "" for c in MANIFEST_COLUMNS}])
    df.loc[0, ["video_id", "label", "faces_file", "status"]] = ["v1", "1", "faces/v1.npy", "ok"]
    out = tmp_path / "data" / "manifest.csv"
    write_csv_atomic(df, out)
    back = read_manifest(out)
    assert back.loc[0, "video_id"] == "v1" and back.loc[0, "label"] == "1" and back.loc[0, "error"] == ""
    assert resolve_faces_path(out, "faces/v1.npy") == (tmp_path / "data" / "faces" / "v1.npy").resolve()
    assert resolve_faces_path(out, "/abs/x.npy").as_posix() == "/abs/x.npy"
    assert not list(out.parent.glob(".*.tmp"))


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(DfdetectError, match="no such file"):
        read_manifest(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DfdetectError, match="empty.csv: the file is empty"):
        read_manifest(empty)
    partial = tmp_path / "partial.csv"
    partial.write_text("video_id,label\nv,1\n")
    with pytest.raises(DfdetectError, match="partial.csv: missing column"):
        read_manifest(partial)


def test_cli_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"dfdetect {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_cli_unknown_command_is_usage_error():
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_help_does_not_import_torch():
    code = "import sys; from dfdetect.cli import app; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "dfdetect", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"dfdetect {__version__}"
