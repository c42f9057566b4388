"""The one exception type the library raises for user-facing problems."""


class DfdetectError(Exception):
    """A user error (bad path, bad flag, bad CSV): the CLI prints it as one line and exits 1."""


class UsageError(DfdetectError):
    """A usage mistake that should exit with code 2, like Click's own usage errors."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) with a message that says how to continue; the CLI prints it and exits 130."""
