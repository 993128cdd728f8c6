"""Weights: the weights.toml manifest, fetching with verification, and safe loading."""
