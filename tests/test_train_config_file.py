"""`train --config FILE`: the loader (dfdetect.training.config_file) and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdetect.errors import UsageError
from dfdetect.training.config_file import read_train_config


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_and_toml_read_the_same_values(tmp_path: Path) -> None:
    yaml_file = write(tmp_path, "a.yaml", "epochs: 3\nbatch-size: 4\nlr: 1\naugment: flip\nval: v.csv\npretrained: false\n")
    toml_file = write(tmp_path, "a.toml", 'epochs = 3\nbatch_size = 4\nlr = 1\naugment = ["flip"]\nval = "v.csv"\npretrained = false\n')
    expected = {"epochs": 3, "batch_size": 4, "lr": 1.0, "augment": ["flip"], "val_csv": "v.csv", "pretrained": False}
    assert read_train_config(yaml_file) == expected
    assert read_train_config(toml_file) == expected
    assert isinstance(read_train_config(yaml_file)["lr"], float)


def test_yaml_exponents_without_a_dot_are_numbers(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) reads 1e-3 as a string; a float option takes it as the number it means
    assert read_train_config(write(tmp_path, "a.yaml", "lr: 1e-3\nema: '0.99'\n")) == {"lr": 1e-3, "ema": 0.99}


def test_a_runs_config_json_is_read_back(tmp_path: Path) -> None:
    path = write(tmp_path, "config.json", json.dumps({"train": {"epochs": 2, "ema": None, "resume": None}, "model": {}}))
    assert read_train_config(path) == {"epochs": 2, "ema": None}


def test_empty_yaml_sets_nothing(tmp_path: Path) -> None:
    assert read_train_config(write(tmp_path, "e.yml", "")) == {}


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("a.yaml", "epohcs: 3\n", ["unknown key 'epohcs'", "did you mean 'epochs'"]),
        ("a.yaml", "batch-sise: 3\n", ["'batch-sise'", "'batch_size'"]),
        ("a.yaml", "epochs: three\n", ["'epochs' must be an integer", "'three'"]),
        ("a.yaml", "epochs: 2.5\n", ["'epochs' must be an integer"]),
        ("a.yaml", "pretrained: 1\n", ["'pretrained' must be true or false"]),
        ("a.yaml", "lr: true\n", ["'lr' must be a number"]),
        ("a.toml", "ema = 'x'\n", ["'ema' must be a number, not 'x'"]),
        ("a.yaml", "resume: runs/x\n", ["cannot be set in a config file", "--resume"]),
        ("a.yaml", "- epochs\n", ["must hold a mapping"]),
        ("a.yaml", "epochs: [\n", ["cannot parse it as YAML"]),
        ("a.toml", "epochs = \n", ["cannot parse it as TOML"]),
        ("a.ini", "epochs=3\n", ["unknown file type '.ini'"]),
    ],
)
def test_bad_files_give_one_line_usage_errors(tmp_path: Path, name: str, text: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        read_train_config(write(tmp_path, name, text))
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_train_config(tmp_path / "nope.yaml")
