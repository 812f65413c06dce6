"""Simulated cohorts shared by the training tests; each is generated once per session."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from training.simulate import simulate_with_latents

Cohort = tuple[pd.DataFrame, dict[str, npt.NDArray[np.generic]]]

PRIMARY_CARE_SIZE = 200_000
OTHER_SETTING_SIZE = 100_000


@pytest.fixture(scope="session")
def primary_care() -> Cohort:
    """The acceptance cohort: 200,000 primary-care cases."""
    return simulate_with_latents(PRIMARY_CARE_SIZE, seed=11, setting="primary_care")


@pytest.fixture(scope="session")
def emergency() -> Cohort:
    return simulate_with_latents(OTHER_SETTING_SIZE, seed=12, setting="emergency")


@pytest.fixture(scope="session")
def oncology() -> Cohort:
    return simulate_with_latents(OTHER_SETTING_SIZE, seed=13, setting="oncology")


@pytest.fixture(scope="session")
def balanced() -> Cohort:
    """Primary-care causes at prevalence 0.5: enough malignant cases for tight checks."""
    return simulate_with_latents(200_000, seed=14, setting="primary_care", prevalence=0.5)
