"""Optimization campaigns: the optimizer contract, adapters (Optuna, Ax, BayBE) and registry."""
