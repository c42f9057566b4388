"""The one error type of the HTTP layer: a status code, a one-line message and what to do about it."""

from __future__ import annotations


class ApiError(Exception):
    """Answered as JSON `{"error": ..., "fix": ...}` with `status` (and any extra headers)."""

    def __init__(self, status: int, error: str, fix: str = "", headers: dict[str, str] | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.fix = status, error, fix
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict:
        return {"error": self.error, "fix": self.fix, **self.extra}
