"""The prediction API: a FastAPI app over a core that loads the model and explains cases."""

from serving.app import create_app
from serving.config import Settings
from serving.core import LoadedModel, ModelUnavailableError, explain_cases, load_model

__all__ = [
    "LoadedModel",
    "ModelUnavailableError",
    "Settings",
    "create_app",
    "explain_cases",
    "load_model",
]
