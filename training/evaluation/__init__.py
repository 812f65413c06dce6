"""Evaluation of a model: TRIPOD+AI metrics, plots, the model card, comparisons of runs."""
