"""Models: the registry of detectors (dual-level network and baselines) and `create_model`, the one door in.

The model contract (input, output dict, `input_cfg`) is described in `dfdetect/models/registry.py`.
"""

from dfdetect.models.factory import create_model, import_model_families, list_models, model_info
from dfdetect.models.registry import MODELS, register_model

__all__ = ["MODELS", "create_model", "import_model_families", "list_models", "model_info", "register_model"]
