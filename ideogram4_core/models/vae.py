"""The FLUX.2 VAE (encoder and decoder) and its loader.

Canonical parameter names follow the BFL / ComfyUI `flux2-vae.safetensors` layout (as in the official
`black-forest-labs/flux2` repo): `encoder.quant_conv` and `decoder.post_quant_conv` sit inside the encoder
and decoder, levels are `encoder.down.{i}` / `decoder.up.{i}` with level 0 at full resolution, ResBlocks use
`nin_shortcut`, and the mid attention is `mid.attn_1.{norm,q,k,v,proj_out}` with 1x1 convs. The diffusers
`AutoencoderKLFlux2` layout is converted onto it on load.

A file's `bn.*` batch-norm statistics (FLUX.2's latent normalisation) are not module buffers: the pipeline
de-normalises with Ideogram's statistics. They are kept, when present, in `Flux2VAE.bn_stats`.

Decoder-only files (no `encoder.*` tensors) load for decoding; `encode` then raises ModelFileError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelFileError
from ..weights.identify import expect
from ..weights.safetensors_io import load_tensors, read_header, weight_files
from .modules import materialize

LATENT_CHANNELS = 32
_EPS = 1e-6
_WHERE_VAES_GO = (
    "choose the FLUX.2 VAE instead (flux2-vae.safetensors in ComfyUI's models/vae folder, or the vae/ folder "
    "of the official model repo)"
)


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of a FLUX.2-style VAE. Channels are per level, level 0 at full image resolution."""

    decoder_channels: tuple[int, ...] = (128, 256, 512, 512)
    encoder_channels: tuple[int, ...] | None = (128, 256, 512, 512)  # None: decoder only
    layers_per_block: int = 2  # ResBlocks per encoder level; decoder levels have one more
    latent_channels: int = LATENT_CHANNELS
    norm_groups: int = 32
    image_channels: int = 3


class ResBlock(nn.Module):
    """GN -> SiLU -> conv3x3 -> GN -> SiLU -> conv3x3, plus the input (1x1 conv when channels change)."""

    def __init__(self, in_ch: int, out_ch: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch, eps=_EPS)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, out_ch, eps=_EPS)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions, with a residual connection."""

    def __init__(self, ch: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch, eps=_EPS)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n = self.norm(x)
        # (B, C, H, W) -> (B, 1 head, H*W, C)
        q, k, v = (proj(n).flatten(2).transpose(1, 2).unsqueeze(1) for proj in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj_out(out.squeeze(1).transpose(1, 2).reshape(b, c, h, w))


class Downsample(nn.Module):
    """Stride-2 conv3x3 after zero-padding one pixel on the right and bottom."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour 2x upsampling followed by a conv3x3."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownLevel(nn.Module):
    """An encoder level: ResBlocks, then a Downsample except at the last level."""

    def __init__(self, in_ch: int, out_ch: int, blocks: int, groups: int, downsample: bool) -> None:
        super().__init__()
        self.block = nn.ModuleList(ResBlock(in_ch if j == 0 else out_ch, out_ch, groups) for j in range(blocks))
        self.downsample = Downsample(out_ch) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class UpLevel(nn.Module):
    """A decoder level: ResBlocks, then an Upsample except at level 0."""

    def __init__(self, in_ch: int, out_ch: int, blocks: int, groups: int, upsample: bool) -> None:
        super().__init__()
        self.block = nn.ModuleList(ResBlock(in_ch if j == 0 else out_ch, out_ch, groups) for j in range(blocks))
        self.upsample = Upsample(out_ch) if upsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block:
            x = block(x)
        return x if self.upsample is None else self.upsample(x)


class MidBlock(nn.Module):
    def __init__(self, ch: int, groups: int) -> None:
        super().__init__()
        self.block_1 = ResBlock(ch, ch, groups)
        self.attn_1 = AttnBlock(ch, groups)
        self.block_2 = ResBlock(ch, ch, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    """Image (B, 3, H, W) -> latent moments (B, 2*latent, H/f, W/f), quant_conv applied."""

    def __init__(self, ch: tuple[int, ...], cfg: VAEConfig) -> None:
        super().__init__()
        g, z = cfg.norm_groups, cfg.latent_channels
        self.conv_in = nn.Conv2d(cfg.image_channels, ch[0], 3, padding=1)
        self.down = nn.ModuleList(
            DownLevel(ch[max(i - 1, 0)], ch[i], cfg.layers_per_block, g, i < len(ch) - 1) for i in range(len(ch))
        )
        self.mid = MidBlock(ch[-1], g)
        self.norm_out = nn.GroupNorm(g, ch[-1], eps=_EPS)
        self.conv_out = nn.Conv2d(ch[-1], 2 * z, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * z, 2 * z, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for level in self.down:
            x = level(x)
        x = self.conv_out(F.silu(self.norm_out(self.mid(x))))
        return self.quant_conv(x)


class Decoder(nn.Module):
    """Latent (B, latent, h, w) -> image (B, 3, h*f, w*f), post_quant_conv applied first."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        ch, g, z = cfg.decoder_channels, cfg.norm_groups, cfg.latent_channels
        self.post_quant_conv = nn.Conv2d(z, z, 1)
        self.conv_in = nn.Conv2d(z, ch[-1], 3, padding=1)
        self.mid = MidBlock(ch[-1], g)
        # up[i] is level i; data flows from the last level to level 0.
        self.up = nn.ModuleList(
            UpLevel(ch[min(i + 1, len(ch) - 1)], ch[i], cfg.layers_per_block + 1, g, i > 0) for i in range(len(ch))
        )
        self.norm_out = nn.GroupNorm(g, ch[0], eps=_EPS)
        self.conv_out = nn.Conv2d(ch[0], cfg.image_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.mid(self.conv_in(self.post_quant_conv(z)))
        for level in reversed(self.up):
            x = level(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class Flux2VAE(nn.Module):
    """The FLUX.2 VAE in the BFL parameter layout; `encoder` is None for decoder-only weights."""

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        config = config or VAEConfig()
        self.config = config
        self.encoder = Encoder(config.encoder_channels, config) if config.encoder_channels is not None else None
        self.decoder = Decoder(config)
        self.bn_stats: dict[str, torch.Tensor] = {}  # the file's `bn.*` tensors as stored, if any (unused here)

    @property
    def downscale(self) -> int:
        """Image pixels per latent pixel along each axis (8 for FLUX.2)."""
        return 2 ** (len(self.config.decoder_channels) - 1)

    def _param(self) -> torch.Tensor:
        return self.decoder.conv_in.weight

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """VAE-space latent (B, 32, H/8, W/8) -> image (B, 3, H, W) in about [-1, 1], not clamped.

        The input is moved to the module's device and dtype; the output has the module's dtype.
        """
        p = self._param()
        return self.decoder(z.to(device=p.device, dtype=p.dtype))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [-1, 1] -> the latent mean (B, 32, H/8, W/8), in the module's dtype."""
        if self.encoder is None:
            raise ModelFileError(
                "This VAE file holds only the decoder, so it cannot encode images; use the full FLUX.2 VAE "
                "(flux2-vae.safetensors) for image-to-image."
            )
        p = self._param()
        moments = self.encoder(images.to(device=p.device, dtype=p.dtype))
        return moments[:, : self.config.latent_channels]


# --- weight layouts -------------------------------------------------------------------------------------

_ATTN_NAMES = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_ATTN_WEIGHT = re.compile(r"\.attn_1\.(q|k|v|proj_out)\.weight$")


def _count(names: Iterable[str], pattern: str) -> int:
    """How many distinct values the first group of `pattern` takes over `names`."""
    return len({m[1] for n in names if (m := re.match(pattern, n))})


def _up_levels(names: Iterable[str]) -> int:
    """Decoder levels in diffusers names (0 for BFL names)."""
    return _count(names, r"decoder\.up_blocks\.(\d+)\.")


def _bfl_name(name: str, up_levels: int) -> str:
    """One parameter name in the BFL layout; diffusers names are renamed, BFL names pass through."""
    if name.startswith("quant_conv."):
        return "encoder." + name
    if name.startswith("post_quant_conv."):
        return "decoder." + name
    name = name.replace(".conv_norm_out.", ".norm_out.").replace(".conv_shortcut.", ".nin_shortcut.")
    name = re.sub(r"\.mid_block\.resnets\.([01])\.", lambda m: f".mid.block_{int(m[1]) + 1}.", name)
    name = name.replace(".mid_block.attentions.0.", ".mid.attn_1.")
    name = re.sub(r"\.attn_1\.(group_norm|to_q|to_k|to_v|to_out\.0)\.", lambda m: f".attn_1.{_ATTN_NAMES[m[1]]}.", name)
    name = re.sub(r"^encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", name)
    name = re.sub(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", name)
    # diffusers numbers decoder levels from the lowest resolution, BFL from the highest.
    m = re.match(r"decoder\.up_blocks\.(\d+)\.(resnets|upsamplers\.0)\.", name)
    if m:
        part = "block" if m[2] == "resnets" else "upsample"
        name = f"decoder.up.{up_levels - 1 - int(m[1])}.{part}.{name[m.end() :]}"
    return name


def convert_diffusers_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a diffusers `AutoencoderKLFlux2` state dict onto the BFL layout (BFL input is returned as is).

    Attention Linear weights (C, C) become 1x1 conv weights (C, C, 1, 1) as views, without copying.
    """
    levels = _up_levels(state_dict)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        new = _bfl_name(name, levels)
        out[new] = tensor[:, :, None, None] if _ATTN_WEIGHT.search(new) and tensor.ndim == 2 else tensor
    return out


# --- loading --------------------------------------------------------------------------------------------


def _infer_config(shapes: Mapping[str, tuple[int, ...]], source: str) -> VAEConfig:
    """Sizes from BFL-layout tensor shapes (norm groups cannot be seen in shapes: 32, as in FLUX.2)."""

    def dim(name: str, axis: int) -> int:
        if name not in shapes:
            raise ModelFileError(
                f"{source} is missing the VAE tensor {name!r}; it is incomplete or not a FLUX.2 VAE. "
                "Download flux2-vae.safetensors again."
            )
        return shapes[name][axis]

    dec_levels = _count(shapes, r"decoder\.up\.(\d+)\.")
    enc_levels = _count(shapes, r"encoder\.down\.(\d+)\.")
    encoder = None
    if any(n.startswith("encoder.") for n in shapes):
        encoder = tuple(dim(f"encoder.down.{i}.block.0.conv1.weight", 0) for i in range(enc_levels))
    return VAEConfig(
        decoder_channels=tuple(dim(f"decoder.up.{i}.block.0.conv1.weight", 0) for i in range(dec_levels)),
        encoder_channels=encoder,
        layers_per_block=_count(shapes, r"decoder\.up\.0\.block\.(\d+)\.") - 1,
        latent_channels=dim("decoder.conv_in.weight", 1),
        image_channels=dim("decoder.conv_out.weight", 0),
    )


def _config_from_diffusers(folder: Path, has_encoder: bool) -> VAEConfig:
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            f"{folder / 'config.json'} cannot be read ({exc}). Download the vae folder again."
        ) from exc
    cls = cfg.get("_class_name", "AutoencoderKLFlux2")
    if cls != "AutoencoderKLFlux2":
        raise ModelFileError(f"{folder} holds a {cls}, not the FLUX.2 VAE (AutoencoderKLFlux2); {_WHERE_VAES_GO}.")
    default = VAEConfig()
    channels = tuple(cfg.get("block_out_channels", default.decoder_channels))
    return VAEConfig(
        decoder_channels=tuple(cfg.get("decoder_block_out_channels") or channels),
        encoder_channels=channels if has_encoder else None,
        layers_per_block=cfg.get("layers_per_block", default.layers_per_block),
        latent_channels=cfg.get("latent_channels", default.latent_channels),
        norm_groups=cfg.get("norm_num_groups", default.norm_groups),
        image_channels=cfg.get("out_channels", default.image_channels),
    )


def load_vae(path: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> Flux2VAE:
    """Load a FLUX.2 VAE from a single .safetensors file (BFL/ComfyUI or diffusers names) or a diffusers folder.

    Single files carry no config: sizes are inferred from tensor shapes. A folder's config.json is honoured.
    `dtype` None keeps the stored dtype. Files without encoder tensors load decoder-only.
    """
    path = Path(path)
    expect(path, "vae")
    folder = path.is_dir()
    files = weight_files(path) if folder else [path]
    names: dict[str, tuple[int, ...]] = {}
    for file in files:
        names.update((n, info.shape) for n, info in read_header(file).tensors.items())
    levels = _up_levels(names)
    shapes = {_bfl_name(n, levels): s for n, s in names.items()}
    if not any(n.startswith("decoder.") for n in shapes):
        raise ModelFileError(f"{path.name} is not a FLUX.2 VAE (it has no VAE decoder weights); {_WHERE_VAES_GO}.")
    has_encoder = any(n.startswith("encoder.") for n in shapes)
    if folder and (path / "config.json").is_file():
        config = _config_from_diffusers(path, has_encoder)
    else:
        config = _infer_config(shapes, path.name)
    if config.latent_channels != LATENT_CHANNELS:
        raise ModelFileError(
            f"{path.name} is a VAE with {config.latent_channels} latent channels, not the FLUX.2 VAE "
            f"({LATENT_CHANNELS}); {_WHERE_VAES_GO}."
        )
    state = convert_diffusers_state_dict(load_tensors(files, device))
    bn_stats = {n.removeprefix("bn."): state.pop(n) for n in [n for n in state if n.startswith("bn.")]}
    vae = materialize(lambda: Flux2VAE(config), state, dtype=dtype, what="FLUX.2 VAE")
    vae.bn_stats = bn_stats
    return vae
