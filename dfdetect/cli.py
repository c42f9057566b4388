"""The `dfdetect` console script. Thin by design: each subcommand lives in dfdetect/commands/."""

from __future__ import annotations

import importlib
from typing import Annotated, Optional

import typer

from dfdetect import __version__, console

app = typer.Typer(
    name="dfdetect",
    help="Detect deepfake videos: extract faces, split leakage-safe sets, train, evaluate, predict.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,  # locals can hold secrets and huge tensors
    context_settings={"help_option_names": ["-h", "--help"]},
)

# (name, module) in pipeline order, which --help keeps; each module defines `command`.
SUBCOMMANDS: list[tuple[str, str]] = [
    ("synth", "dfdetect.commands.synth"),
    ("extract", "dfdetect.commands.extract"),
    ("split", "dfdetect.commands.split"),
    ("models", "dfdetect.commands.models"),
    ("train", "dfdetect.commands.train"),
    ("eval", "dfdetect.commands.eval"),
    ("robustness", "dfdetect.commands.robustness"),
    ("predict", "dfdetect.commands.predict"),
    ("benchmark", "dfdetect.commands.benchmark"),
    ("serve", "dfdetect.commands.serve"),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dfdetect {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and results; no progress.")] = False,
) -> None:
    """dfdetect: deepfake video detection from the command line."""
    console.configure(quiet=quiet, debug=debug)


def _epilog(module: object) -> str | None:
    """The module's EXAMPLES as the help's last lines (Typer's rich mode keeps paragraphs as lines)."""
    examples = getattr(module, "EXAMPLES", None)
    return "\n\n".join(["[bold]Examples[/]"] + [f"  {line}" for line in examples]) if examples else None


def _flags_show_no_type() -> None:
    """Typer labels on/off flags `<bool>` in --help, as if they took a value; show them bare."""
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if getattr(original, "_dfdetect", False):
        return

    def display_type_rich(self, ctx):  # type: ignore[no-untyped-def]
        return None if self.is_flag and self.metavar is None else original(self, ctx)

    display_type_rich._dfdetect = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_type()
for _name, _module in SUBCOMMANDS:
    _mod = importlib.import_module(_module)
    app.command(_name, epilog=_epilog(_mod))(_mod.command)


def main() -> None:
    app()
