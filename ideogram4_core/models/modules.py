"""Building modules without allocating random weights: construct on `meta`, then assign real tensors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import torch
from torch import nn

from ..errors import ModelFileError

M = TypeVar("M", bound=nn.Module)
_FIX = (
    "The file is incomplete or inconsistent with itself (a damaged download or a broken conversion): download or "
    "convert it again."
)


def materialize(
    build: Callable[[], M],
    state_dict: Mapping[str, torch.Tensor],
    *,
    dtype: torch.dtype | None,
    what: str,
    replacements: Mapping[str, nn.Module] | None = None,
) -> M:
    """Build a module on the meta device and assign `state_dict` to it (no copy for matching dtypes).

    `replacements` (module path → ready module, e.g. quantised Linears) are put in place first; the
    state dict then covers only what is left. Floating tensors are cast to `dtype` when given. Missing or
    unexpected keys raise ModelFileError naming `what` was being loaded. Modules must not own
    non-persistent buffers (they would stay on meta).
    """
    with torch.device("meta"):
        module = build()
    for path, replacement in (replacements or {}).items():
        try:
            original = module.get_submodule(path)
        except AttributeError:
            raise ModelFileError(f"The weights do not fit the {what}: unexpected layer {path!r}.") from None
        _check_replacement(original, replacement, path, what)
        module.set_submodule(path, replacement)
    replaced = tuple(f"{path}." for path in replacements or {})
    shapes = {k: v for k, v in module.state_dict().items() if not k.startswith(replaced)}
    expected = set(shapes)
    missing = sorted(expected - state_dict.keys())
    unexpected = sorted(state_dict.keys() - expected)
    if missing or unexpected:
        detail = []
        if missing:
            detail.append(f"missing {len(missing)} tensor(s) such as {missing[0]!r}")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected tensor(s) such as {unexpected[0]!r}")
        raise ModelFileError(f"The weights do not fit the {what}: {'; '.join(detail)}. {_FIX}")
    cast = {
        k: (v.to(dtype) if dtype is not None and v.is_floating_point() and v.dtype != dtype else v)
        for k, v in state_dict.items()
    }
    for name, tensor in cast.items():
        if tuple(tensor.shape) != tuple(shapes[name].shape):
            raise ModelFileError(
                f"The weights do not fit the {what}: {name} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(shapes[name].shape)}. {_FIX}"
            )
    module.load_state_dict(cast, strict=False, assign=True)  # completeness was checked above
    return module.eval().requires_grad_(False)


def module_types(build: Callable[[], nn.Module]) -> dict[str, type[nn.Module]]:
    """The type of every submodule `build` creates, by path (built on `meta`: no memory, no init)."""
    with torch.device("meta"):
        return {path: type(module) for path, module in build().named_modules()}


def _check_replacement(original: nn.Module, replacement: nn.Module, path: str, what: str) -> None:
    """A quantised replacement must stand in for a Linear (or Embedding) of the same shape."""
    if isinstance(original, nn.Embedding):
        expected = (original.num_embeddings, original.embedding_dim)
        got = (getattr(replacement, "num_embeddings", None), getattr(replacement, "embedding_dim", None))
    elif isinstance(original, nn.Linear):
        expected = (original.out_features, original.in_features)
        got = (getattr(replacement, "out_features", None), getattr(replacement, "in_features", None))
    else:
        raise ModelFileError(
            f"The weights do not fit the {what}: {path!r} is stored quantised, but it is a "
            f"{type(original).__name__}, not a Linear layer."
        )
    if got != expected:
        raise ModelFileError(
            f"The weights do not fit the {what}: quantised layer {path!r} is {got[0]}×{got[1]}, expected "
            f"{expected[0]}×{expected[1]}. {_FIX}"
        )


def zero_embedding(num: int, dim: int) -> nn.Embedding:
    """A zero-initialised Embedding: its weights come from a file, and the default random init on `meta`
    would import torch's compiler stack (~2 s per process) for nothing."""
    return nn.Embedding(num, dim, _weight=torch.zeros(num, dim))
