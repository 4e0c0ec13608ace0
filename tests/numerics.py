"""Tolerance helpers shared by the oracle comparisons."""

import torch


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """‖got − expected‖ / ‖expected‖ over the whole tensor, in float64."""
    got, expected = got.double(), expected.double()
    return float((got - expected).norm() / expected.norm().clamp_min(1e-30))


def assert_relative_close(got: torch.Tensor, expected: torch.Tensor, tol: float) -> None:
    assert got.shape == expected.shape, f"shape {tuple(got.shape)} != {tuple(expected.shape)}"
    err = relative_error(got, expected)
    assert err <= tol, f"relative error {err:.3g} exceeds {tol:g}"
