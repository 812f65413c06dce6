"""Simulated cohorts: the simulator, its published and assumed targets, the cohort report."""
