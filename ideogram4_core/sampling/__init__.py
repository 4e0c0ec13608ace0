"""Sampling: the logit-normal schedule and presets, the asymmetric-guidance Euler sampler, latent layouts and
image-size rules."""
