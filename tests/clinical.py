"""FHIR resources, CDS Hooks calls and CDS client keys for the tests (real keys, made here)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from features.codes import LOCAL, LOINC, SNOMED

ISSUER = "https://ehr.test.example"


def patient(pid: str = "p1", birth: str = "1956-03-14", gender: str = "male") -> dict[str, Any]:
    """A Patient."""
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth}


def observation(oid: str, system: str, code: str, pid: str = "p1", **value: Any) -> dict[str, Any]:
    """A final Observation of ``code`` with the value given (valueBoolean=..., etc.)."""
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        **value,
    }


def condition(cid: str, code: str, onset: str | None = None, pid: str = "p1") -> dict[str, Any]:
    """A Condition coded in SNOMED CT."""
    found: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    if onset:
        found["onsetDateTime"] = onset
    return found


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    """A searchset Bundle."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def findings_of_a_worrying_case(pid: str = "p1") -> list[dict[str, Any]]:
    """Observations: weakness, night pain, ESR 68, weight loss 6 kg of 70, thoracic back pain."""
    return [
        observation("o1", SNOMED, "26544005", pid, valueBoolean=True),
        observation("o2", LOCAL, "night_pain", pid, valueBoolean=True),
        observation("o3", LOINC, "4537-7", pid, valueQuantity={"value": 68, "code": "mm/h"}),
        observation("o4", LOINC, "29463-7", pid, valueQuantity={"value": 70, "code": "kg"}),
        observation("o5", SNOMED, "448765001", pid, valueQuantity={"value": 6, "code": "kg"}),
        observation(
            "o6",
            SNOMED,
            "161891005",
            pid,
            bodySite={"coding": [{"system": SNOMED, "code": "122495006"}]},
        ),
        observation("o7", LOCAL, "fever", pid, dataAbsentReason={"text": "not asked"}),
    ]


def worrying_bundle() -> dict[str, Any]:
    """A collection Bundle: a man of 70 with previous prostate cancer and the findings above."""
    resources = [
        patient(),
        *findings_of_a_worrying_case(),
        condition("c1", "399068003", "2019-06-01"),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def cds_call(prefetch: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A patient-view call; with prefetch for the worrying case unless told otherwise."""
    if prefetch is None:
        prefetch = {
            "patient": patient(),
            "findings": searchset(*findings_of_a_worrying_case()),
            "cancers": searchset(condition("c1", "399068003", "2019-06-01")),
        }
    call = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/pr1", "patientId": "p1"},
        "prefetch": prefetch,
        **extra,
    }
    return {key: value for key, value in call.items() if value is not None}


def empty_values(value: Any, path: str = "") -> list[str]:
    """Paths of null or empty values (the CDS Hooks spec forbids them)."""
    if value is None or value in ("", [], {}):
        return [path or "(root)"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empty_values(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empty_values(v, f"{path}[{i}]")]
    return []


@dataclass
class ClientKey:
    """A CDS client's signing key and its public JWK."""

    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = (
            jwt.algorithms.RSAAlgorithm if self.alg.startswith("RS") else jwt.algorithms.ECAlgorithm
        )
        jwk = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def token(self, audience: str, issuer: str = ISSUER, **claims: Any) -> str:
        """A signed token for ``audience``; ``claims`` override or (with None) remove claims."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": issuer, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()),
        }  # fmt: skip
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.private, algorithm=self.alg, headers={"kid": self.kid})


def rsa_key(kid: str = "rsa-1") -> ClientKey:
    """A fresh RS384 key."""
    return ClientKey(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str = "ec-1") -> ClientKey:
    """A fresh ES384 key (P-384)."""
    return ClientKey(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))


def jwks(*keys: ClientKey) -> dict[str, Any]:
    """A JWK Set of the public keys."""
    return {"keys": [key.public_jwk() for key in keys]}


def unsigned_token(audience: str) -> str:
    """A token with alg none."""
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": "n1"}
    return jwt.encode(payload, None, algorithm="none", headers={"kid": "rsa-1"})


def hmac_token(audience: str) -> str:
    """A token signed with HS256 (a shared secret: refused by the spec)."""
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": "h1"}
    return jwt.encode(
        payload, "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"kid": "rsa-1"}
    )
