"""Model zoo. Importing this package registers every model; see registry.py for the contract."""

from dfdetect.models.registry import MODELS, create_model, list_models, model_info, register_model

__all__ = ["MODELS", "create_model", "list_models", "model_info", "register_model"]
