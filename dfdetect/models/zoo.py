"""Imports every model family so each registers itself. Loaded lazily by registry._import_all."""

from dfdetect.models import dual  # noqa: F401
