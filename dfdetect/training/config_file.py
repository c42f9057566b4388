"""`dfdetect train --config FILE`: training options from a YAML, TOML or JSON file.

The file sets defaults; options typed on the command line win (timm's train.py order). Keys are
TrainConfig's field names (`batch_size` or `batch-size`; `val` for `--val`). A run's config.json is
a valid file too, so a run can be repeated with `--config RUN/config.json --out NEW`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfdetect.errors import UsageError

if TYPE_CHECKING:
    from dfdetect.training.config import TrainConfig

SUFFIXES = (".yaml", ".yml", ".toml", ".json")
# Key spellings of the command line that differ from the field names.
ALIASES = {"val": "val_csv"}
# Names other trainers (timm, ultralytics, lightning) use, offered as the close match.
SYNONYMS = {
    "learning_rate": "lr", "lr0": "lr", "batch": "batch_size", "num_workers": "workers", "max_epochs": "epochs",
    "n_epochs": "epochs", "val_data": "val", "model_ema_decay": "ema", "model_ema": "ema", "imgsz": "img_size",
    "input_size": "img_size", "pretrained_weights": "weights", "augmentations": "augment",
}
# Not settable from a file: where a run continues is a command-line decision.
CLI_ONLY = ("resume",)
# Recorded in a run's config.json but not options: skipped when such a file is read back.
RECORDED_ONLY = ("resume",)


@functools.lru_cache(maxsize=1)
def field_types() -> dict[str, Any]:
    """TrainConfig's fields and their resolved type hints."""
    from dfdetect.training.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def parse_file(path: Path) -> Any:
    """The file's contents as Python values; one-line errors for a missing, unknown or broken file."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"--config {path}: unknown file type '{suffix or path.name}'; use .yaml, .yml, .toml or .json")
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10: the same parser as a package
                import tomli as tomllib  # type: ignore[no-redef]

            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError, ValueError: all "cannot parse"
        reason = " ".join(str(exc).split())
        raise UsageError(f"--config {path}: cannot parse it as {suffix[1:].upper()} ({reason})") from None


def _type_name(kind: Any) -> str:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is list or kind is list:
        return "a list of strings or a comma-separated string"
    if args:
        return f"{_type_name(args[0])} or null"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))


def coerce(key: str, value: Any, kind: Any, source: str) -> Any:
    """`value` checked against the field's type; ints are taken where a float is wanted."""
    args = typing.get_args(kind)
    if type(None) in args:
        if value is None:
            return None
        kind = next(a for a in args if a is not type(None))
    if typing.get_origin(kind) is list:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads `lr: 1e-3` as the string '1e-3'
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. `seed`-like names or `threshold_policy: balanced`; numbers as text
    raise UsageError(f"{source}: '{key}' must be {_type_name(kind)}, not {value!r}")


def normalise(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Keys mapped to TrainConfig field names and values checked against the field types."""
    types = field_types()
    accepted = sorted((set(types) | set(ALIASES)) - set(CLI_ONLY))
    out: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = ALIASES.get(str(raw_key).replace("-", "_"), str(raw_key).replace("-", "_"))
        if key in CLI_ONLY:
            if key in RECORDED_ONLY and value is None:
                continue
            raise UsageError(f"{source}: '{raw_key}' cannot be set in a config file; give --{key} on the command line")
        if key not in types:
            plain = str(raw_key).replace("-", "_")
            close = [SYNONYMS[plain]] if plain in SYNONYMS else difflib.get_close_matches(plain, accepted, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(accepted)}"
            raise UsageError(f"{source}: unknown key '{raw_key}'{hint}")
        if key in out:
            raise UsageError(f"{source}: '{raw_key}' is given twice")
        out[key] = coerce(str(raw_key), value, types[key], source)
    return out


def read_train_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The training options in a YAML, TOML or JSON file, as TrainConfig field names -> checked values.

    Only the keys the file sets are returned (the rest stay TrainConfig's defaults). A top-level
    `train` table (as in a run's config.json) is read as the options. Raises UsageError (one line)
    for an unknown key (naming the closest known one), a value of the wrong type, or a broken file.
    """
    path = Path(path)
    data = parse_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: must hold a mapping of option names to values, not {type(data).__name__}")
    if isinstance(data.get("train"), dict):
        data = data["train"]
    return normalise(data, f"--config {path}")


def merge_values(file_values: dict[str, Any], cli_values: dict[str, Any]) -> dict[str, Any]:
    """The options given, file first and typed options over them (timm's train.py order).

    `cli_values` holds only the options typed on the command line (field names); `--augment` is
    parsed to its list here, so a file's list and a typed "flip,color" compare equal.
    """
    merged = {**file_values, **cli_values}
    if merged.get("augment") is not None:
        from dfdetect.training.augment import parse_augment

        merged["augment"] = list(parse_augment(merged["augment"]))
    return merged


def train_config_from(file_values: dict[str, Any], cli_values: dict[str, Any]) -> "TrainConfig":
    """TrainConfig from its defaults, then the --config file's values, then the typed options."""
    from dfdetect.training.config import TrainConfig

    merged = merge_values(file_values, cli_values)
    if not merged.get("train_csv"):
        raise UsageError("missing TRAIN_CSV (or --resume RUN to continue a run, or train_csv in the --config file)")
    return TrainConfig(**merged)
