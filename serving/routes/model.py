"""Metadata of the model being served."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from features.catalogue import RED_FLAGS
from features.intended_use import INTENDED_USE, NOT_A_MEDICAL_DEVICE, SIMULATED_DATA_WARNING
from features.loader import LoadedModel
from features.risk import RISK_BANDS
from features.setting import SETTING_PREVALENCE
from serving.config import Settings
from serving.deps import ModelDep, SettingsDep
from serving.examples import MODEL_INFO_EXAMPLE
from serving.schemas import ErrorResponse

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    responses={
        200: {"content": {"application/json": {"example": MODEL_INFO_EXAMPLE}}},
        401: {
            "model": ErrorResponse,
            "description": "Missing or wrong API key (when keys are set)",
        },
        503: {"model": ErrorResponse, "description": "No model loaded"},
    },
)
async def model_info(model: ModelDep, settings: SettingsDep) -> dict[str, Any]:
    """Name, version, alias, run, training metrics, features, risk bands and intended use."""
    return describe_model(model, settings)


def describe_model(model: LoadedModel, settings: Settings) -> dict[str, Any]:
    """The body of ``GET /v1/model`` for ``model`` served with ``settings``.

    A plain function, so that ``python -m serving.examples`` writes the example the route answers.
    """
    simulated = model.params.get("data", "simulated") == "simulated"
    low, high = settings.risk_thresholds
    return {
        **model.identity.as_response(),
        "uri": model.identity.uri,
        "loaded_at": model.loaded_at,
        "training": {
            "simulated_data": simulated,
            "params": model.params,
            "train_prevalence": model.train_prevalence,
        },
        "metrics": model.metrics,
        "risk_bands": {
            "bands": list(RISK_BANDS),
            "thresholds": {"moderate_from": low, "high_from": high},
        },
        "settings": {
            "training": model.params.get("setting"),
            "prevalence": dict(SETTING_PREVALENCE),
        },
        "limits": {"max_batch": settings.max_batch, "max_body_bytes": settings.max_body_bytes},
        "features": [
            {
                "name": flag.name,
                "label": flag.label,
                "inputs": list(flag.inputs),
                "direction": flag.direction,
                "source": flag.source,
            }
            for flag in RED_FLAGS
        ],
        "intended_use": INTENDED_USE,
        "training_data": SIMULATED_DATA_WARNING if simulated else "Trained on user-supplied cases.",
        "simulated_data_warning": SIMULATED_DATA_WARNING,
        "not_a_medical_device": NOT_A_MEDICAL_DEVICE,
    }
