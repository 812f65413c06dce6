"""The test suite. Imported before any conftest or test module, so before XGBoost loads OpenMP."""

import os

# OpenMP threads that spin while they wait burn the cores they wait for on a shared machine: a
# two-thread XGBoost fit took 7 times the wall time (and 8 times the CPU) of a passive one on
# this project's busy 2-core machine, the same trees either way. Read once, when OpenMP loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
