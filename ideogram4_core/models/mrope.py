"""Qwen3-VL's interleaved multimodal RoPE for a prompt that holds one image.

Every token has a (temporal, height, width) position. Text tokens count up on all three axes alike; the image's
merged tokens (a grid_h × grid_w raster) share the temporal position where the image starts and count rows and
columns from it, and the text after the image resumes at that start + max(grid_h, grid_w). The rotary
frequencies are interleaved by axis: frequency j turns with the height position when j ≡ 1 (mod 3) and
j < 3·sections[1], with the width position when j ≡ 2 (mod 3) and j < 3·sections[2], else with the temporal one.
With equal positions on all axes this is exactly 1-D RoPE (`text_encoder.rope_cos_sin`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def multimodal_positions(image_mask: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, int]:
    """(3, L) positions for a prompt whose `image_mask` (L,) marks one contiguous run of grid_h·grid_w image
    tokens, and the rotary delta of the tokens that follow (position = index + delta)."""
    grid_h, grid_w = grid
    where = image_mask.nonzero()[:, 0]
    start, count = int(where[0]), len(where)
    if count != grid_h * grid_w or int(where[-1]) != start + count - 1:
        raise ValueError(f"expected one run of {grid_h}×{grid_w} image tokens, found {count} (contiguous or not)")
    length = len(image_mask)
    device = image_mask.device
    rows = torch.arange(grid_h, device=device).repeat_interleave(grid_w)
    cols = torch.arange(grid_w, device=device).repeat(grid_h)
    image = torch.stack((torch.zeros_like(rows), rows, cols)) + start
    resume = start + max(grid_h, grid_w)
    before = torch.arange(start, device=device).expand(3, -1)
    after = torch.arange(length - start - count, device=device).expand(3, -1) + resume
    positions = torch.cat((before, image, after), dim=1)
    return positions, int(positions.max()) + 1 - length


def mrope_cos_sin(
    positions: torch.Tensor, head_dim: int, theta: float, sections: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (L, head_dim) in float32 for (3, L) positions, axes interleaved, halves duplicated."""
    device = positions.device
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
    axis = torch.zeros(head_dim // 2, dtype=torch.long, device=device)
    axis[1 : 3 * sections[1] : 3] = 1
    axis[2 : 3 * sections[2] : 3] = 2
    chosen = positions.float()[axis].t()  # (L, head_dim / 2): each frequency's position on its own axis
    angles = chosen * inv_freq
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()
