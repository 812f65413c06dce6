"""Serving settings: one validated object read from ``REDFLAG_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.store import default_model_uri


class Settings(BaseSettings):
    """Everything the service can be told; resolved when the app starts, never at import."""

    model_config = SettingsConfigDict(env_prefix="REDFLAG_", extra="ignore")

    model_uri: str = Field(default_factory=default_model_uri)
    # Probability cut-offs between risk bands low | moderate | high, ascending.
    risk_thresholds: tuple[float, float] = (0.01, 0.05)

    @field_validator("risk_thresholds")
    @classmethod
    def _ascending(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 < low < high < 1:
            raise ValueError("risk_thresholds must be two probabilities with 0 < low < high < 1")
        return value
