"""Serving settings: one validated object read from ``REDFLAG_*`` environment variables."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from features.risk import DEFAULT_RISK_THRESHOLDS, check_risk_thresholds
from features.store import default_model_uri

# Unrecorded questions ranked per prediction unless a request asks for another number.
DEFAULT_NEXT_QUESTIONS = 5
MAX_NEXT_QUESTIONS = 20
# Shorter keys can be guessed; a key is a shared secret, so refuse weak ones at start-up.
MIN_KEY_LENGTH = 16


class Settings(BaseSettings):
    """Everything the service can be told; resolved when the app starts, never at import."""

    model_config = SettingsConfigDict(env_prefix="REDFLAG_", extra="ignore")

    model_uri: str = Field(default_factory=default_model_uri)
    # Probability cut-offs between risk bands low | moderate | high, ascending.
    # From the environment: "0.01,0.05" or "[0.01, 0.05]".
    risk_thresholds: Annotated[tuple[float, float], NoDecode] = DEFAULT_RISK_THRESHOLDS
    max_batch: int = Field(default=1000, ge=1, description="Most cases in one batch request.")
    # A full batch of complete cases is ~1 MB of JSON; the default leaves room for it.
    max_body_bytes: int = Field(default=2_097_152, ge=1024)
    # Longest wait for the next piece of a request body: a client that stalls mid-body (a
    # slow-loris attack, or a dead one) is answered 408 and its connection closed.
    body_timeout_s: float = Field(default=10.0, gt=0)
    # Seconds between checks of the registry alias being served; 0 turns polling off.
    reload_interval_s: float = Field(default=0.0, ge=0)
    # A model that fails to load at start-up is retried after 1 s, 2 s, 4 s, ... up to this.
    load_retry_max_s: float = Field(default=30.0, ge=1)
    # "id:key,id2:key2" (or bare keys, named by a digest); empty: no authentication.
    api_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    # Key ids allowed to call /v1/admin/*, "ops,deploy"; empty: every configured key.
    admin_key_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    audit_log: Path | None = None
    # Booster threads per scoring call; 0: XGBoost's default (every core). Measured on 2 busy
    # cores: 1 thread halves one-case latency and does not slow a 1000-case batch.
    scoring_threads: int = Field(default=1, ge=0)
    log_level: str = "INFO"
    # CDS Hooks: issuers allowed to call, "https://ehr.example,https://other"; with cds_jwks (a JWKS
    # file or URL) every /cds-services call needs their JWT. Both empty: the routes are open.
    cds_issuers: Annotated[frozenset[str], NoDecode] = frozenset()
    cds_jwks: str | None = None
    # The public base URL the CDS client calls (the JWT's aud); unset: the URL the request reached.
    cds_base_url: str | None = None
    cds_max_token_lifetime_s: float = Field(default=600.0, gt=0)
    # The site's own prevalence (`redflag prevalence` estimates it), served with ?setting=site.
    site_prevalence: float | None = Field(default=None, gt=0, lt=1)
    # The online drift window: the last cases scored, and the fewest it tests.
    drift_window: int = Field(default=10_000, ge=100)
    drift_min_cases: int = Field(default=500, ge=1)

    @field_validator("risk_thresholds", mode="before")
    @classmethod
    def _parse_thresholds(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("risk_thresholds")
    @classmethod
    def _ascending(cls, value: tuple[float, float]) -> tuple[float, float]:
        check_risk_thresholds(value)
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        keys: dict[str, str] = {}
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            key_id, sep, key = entry.partition(":")
            if not sep:
                key = key_id
                key_id = "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]
            key_id, key = key_id.strip(), key.strip()
            if not key_id or not key:
                raise ValueError("api_keys entries are 'id:key' or 'key', separated by commas")
            if key_id in keys:
                raise ValueError(f"api_keys: key id '{key_id}' is given twice")
            keys[key_id] = key
        return keys

    @field_validator("api_keys")
    @classmethod
    def _strong_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key_id, key in value.items():
            if len(key.get_secret_value()) < MIN_KEY_LENGTH:
                raise ValueError(
                    f"api_keys: key '{key_id}' is shorter than {MIN_KEY_LENGTH} characters"
                )
        secrets = [key.get_secret_value() for key in value.values()]
        if len(set(secrets)) != len(secrets):
            raise ValueError("api_keys: two key ids share one key; the audit log could not tell")
        return value

    @field_validator("admin_key_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _admins_are_keys(self) -> Self:
        unknown = sorted(self.admin_key_ids - set(self.api_keys))
        if unknown:
            raise ValueError(f"admin_key_ids: {', '.join(unknown)} not among the api_keys ids")
        return self

    @field_validator("cds_issuers", mode="before")
    @classmethod
    def _parse_issuers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _cds_security_whole(self) -> Self:
        if bool(self.cds_issuers) != bool(self.cds_jwks):
            raise ValueError("cds_issuers and cds_jwks go together: set both, or neither")
        if self.cds_base_url is not None:
            self.cds_base_url = self.cds_base_url.rstrip("/")
        return self

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return level
