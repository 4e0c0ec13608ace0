"""FLUX.2 VAE: our module against a tiny diffusers AutoencoderKLFlux2 (the oracle), in both weight layouts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKLFlux2
from safetensors.torch import save_file

from ideogram4_core.errors import ModelFileError
from ideogram4_core.models.vae import Flux2VAE, load_vae

# fp32 tolerance: max |ours - oracle| relative to max |oracle|. Observed ~3e-6 (conv/attention kernel order).
REL_TOL = 1e-5


def _tiny_oracle(seed: int, **config) -> AutoencoderKLFlux2:
    """A tiny AutoencoderKLFlux2 with non-trivial GroupNorm affines and batch-norm statistics."""
    torch.manual_seed(seed)
    vae = AutoencoderKLFlux2(latent_channels=32, **config).eval()
    with torch.no_grad():
        for module in vae.modules():
            if isinstance(module, torch.nn.GroupNorm):
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0.0, 0.2)
        vae.bn.running_mean.normal_()
        vae.bn.running_var.uniform_(0.5, 2.0)
    return vae


def _rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return ((ours.float() - ref.float()).abs().max() / ref.abs().max()).item()


def _check_against_oracle(vae: Flux2VAE, oracle: AutoencoderKLFlux2) -> None:
    """Decode and encode with non-square sizes, batch 2, against the oracle."""
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(2, 32, 5, 7, generator=gen)
    images = torch.rand(2, 3, 40, 56, generator=gen) * 2 - 1
    with torch.no_grad():
        decoded, ref_decoded = vae.decode(z), oracle.decode(z).sample
        encoded, ref_encoded = vae.encode(images), oracle.encode(images).latent_dist.mean
    assert decoded.shape == (2, 3, 40, 56)
    assert encoded.shape == (2, 32, 5, 7)
    assert _rel_err(decoded, ref_decoded) < REL_TOL
    assert _rel_err(encoded, ref_encoded) < REL_TOL


# Groups must be 32 for single files (shapes cannot tell the group count; FLUX.2 uses 32).
BFL_LIKE = {"block_out_channels": (32, 32, 64, 64), "layers_per_block": 2, "norm_num_groups": 32}


@pytest.fixture(scope="module")
def bfl_oracle(tmp_path_factory: pytest.TempPathFactory) -> tuple[AutoencoderKLFlux2, Path, Path]:
    """The oracle, its diffusers folder, and a BFL-layout single file.

    The single file is our canonical module's state dict (loaded from the folder) plus the oracle's `bn.*`
    buffers: that is exactly the BFL / ComfyUI `flux2-vae.safetensors` layout (checked key-for-key against
    the official black-forest-labs/flux2 AutoEncoder when this module was written).
    """
    oracle = _tiny_oracle(0, **BFL_LIKE)
    root = tmp_path_factory.mktemp("vae")
    oracle.save_pretrained(root / "vae")
    vae = load_vae(root / "vae")
    single = root / "flux2-vae.safetensors"
    tensors = {**vae.state_dict(), **{f"bn.{k}": v for k, v in vae.bn_stats.items()}}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(single))
    return oracle, root / "vae", single


def test_folder_honours_config_and_matches_oracle(tmp_path: Path) -> None:
    oracle = _tiny_oracle(
        2,
        block_out_channels=(16, 32, 32, 32),
        decoder_block_out_channels=(16, 24, 32, 32),
        layers_per_block=1,
        norm_num_groups=8,
    )
    oracle.save_pretrained(tmp_path)
    vae = load_vae(tmp_path)
    assert vae.config.encoder_channels == (16, 32, 32, 32)
    assert vae.config.decoder_channels == (16, 24, 32, 32)
    assert vae.config.norm_groups == 8
    assert vae.downscale == 8
    _check_against_oracle(vae, oracle)


def test_bfl_single_file_layout_and_oracle(bfl_oracle: tuple[AutoencoderKLFlux2, Path, Path]) -> None:
    oracle, _, single = bfl_oracle
    vae = load_vae(single)
    names = vae.state_dict().keys()
    for name in (
        "encoder.quant_conv.weight",
        "encoder.down.0.downsample.conv.weight",
        "encoder.mid.attn_1.proj_out.weight",
        "decoder.post_quant_conv.weight",
        "decoder.up.3.upsample.conv.weight",
        "decoder.up.1.block.0.nin_shortcut.weight",
        "decoder.mid.block_2.conv2.weight",
        "decoder.norm_out.weight",
    ):
        assert name in names
    assert "decoder.up.0.upsample.conv.weight" not in names
    assert vae.state_dict()["decoder.mid.attn_1.q.weight"].shape == (64, 64, 1, 1)
    assert vae.config.layers_per_block == 2
    assert torch.equal(vae.bn_stats["running_mean"], oracle.bn.running_mean)
    assert torch.equal(vae.bn_stats["running_var"], oracle.bn.running_var)
    _check_against_oracle(vae, oracle)


def test_diffusers_single_file_without_config(bfl_oracle: tuple[AutoencoderKLFlux2, Path, Path]) -> None:
    oracle, folder, _ = bfl_oracle
    _check_against_oracle(load_vae(folder / "diffusion_pytorch_model.safetensors"), oracle)


def test_decoder_only_file_decodes_and_refuses_encode(
    bfl_oracle: tuple[AutoencoderKLFlux2, Path, Path], tmp_path: Path
) -> None:
    oracle, _, single = bfl_oracle
    full = load_vae(single)
    decoder_only = tmp_path / "decoder.safetensors"
    save_file({k: v for k, v in full.state_dict().items() if k.startswith("decoder.")}, str(decoder_only))
    vae = load_vae(decoder_only)
    assert vae.encoder is None
    z = torch.randn(1, 32, 3, 4)
    with torch.no_grad():
        assert _rel_err(vae.decode(z), oracle.decode(z).sample) < REL_TOL
    with pytest.raises(ModelFileError, match="only the decoder"):
        vae.encode(torch.zeros(1, 3, 24, 32))


def test_bf16_load(bfl_oracle: tuple[AutoencoderKLFlux2, Path, Path]) -> None:
    oracle, _, single = bfl_oracle
    vae = load_vae(single, dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in vae.parameters())
    z = torch.randn(1, 32, 2, 3)
    with torch.no_grad():
        out = vae.decode(z)
        assert out.dtype == torch.bfloat16
        assert _rel_err(out, oracle.decode(z).sample) < 0.1


def test_refuses_a_transformer_file(tmp_path: Path) -> None:
    path = tmp_path / "flux2-dev.safetensors"
    save_file({"double_blocks.0.img_attn.qkv.weight": torch.zeros(6, 2), "img_in.weight": torch.zeros(2, 4)}, str(path))
    with pytest.raises(ModelFileError, match=r"not a FLUX\.2 VAE.*models/vae"):
        load_vae(path)


def test_refuses_a_truncated_file(bfl_oracle: tuple[AutoencoderKLFlux2, Path, Path], tmp_path: Path) -> None:
    data = bfl_oracle[2].read_bytes()
    path = tmp_path / "flux2-vae.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_vae(path)


def test_refuses_other_latent_sizes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    AutoencoderKLFlux2(
        block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=8, latent_channels=16
    ).save_pretrained(tmp_path)
    with pytest.raises(ModelFileError, match="16 latent channels"):
        load_vae(tmp_path)
