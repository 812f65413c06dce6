"""The prediction API: a FastAPI app that lays out the scoring core's results as JSON."""

from serving.app import create_app
from serving.config import Settings
from serving.responses import explain_cases

__all__ = ["Settings", "create_app", "explain_cases"]
