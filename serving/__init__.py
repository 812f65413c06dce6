"""The prediction API: a FastAPI app that lays out the scoring core's results as JSON.

The public names load on first use, so that ``redflag --help`` (which imports ``serving.cli``)
does not import FastAPI, XGBoost and the model code.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Settings": "serving.config",
    "create_app": "serving.app",
    "explain_cases": "serving.responses",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'serving' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
