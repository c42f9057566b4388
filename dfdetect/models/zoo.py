"""Imports every model family so each registers itself. Loaded lazily by registry._import_all."""

from dfdetect.models import baselines, capsule, crnn, dual, mesonet, r3d, transformers  # noqa: F401
