"""A small name -> factory registry, shared by models, face detectors and losses.

Modelled on timm's `_registry.py`: entries are added by a decorator where they are defined,
listing filters with fnmatch, and an unknown name gets a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import fnmatch
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from dfdetect.errors import UsageError

T = TypeVar("T", bound=Callable[..., Any])


@dataclass
class RegistryEntry(Generic[T]):
    name: str
    factory: T
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Maps short names to factories. `kind` is used in error messages ("model", "detector")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, RegistryEntry[T]] = {}

    def register(self, name: str, description: str = "", **info: Any) -> Callable[[T], T]:
        def decorator(factory: T) -> T:
            if name in self._entries:
                warnings.warn(f"{self.kind} '{name}' registered twice; the later one wins", stacklevel=2)
            doc = description or (factory.__doc__ or "").strip().split("\n")[0]
            self._entries[name] = RegistryEntry(name, factory, doc, dict(info))
            return factory

        return decorator

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def entry(self, name: str) -> RegistryEntry[T]:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UsageError(
                f"unknown {self.kind} '{name}'{hint} (available: {', '.join(self.names())})"
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).factory

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[RegistryEntry[T]]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)
