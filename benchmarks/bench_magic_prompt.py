"""Magic prompt decoding speed: tokens/s of our causal LM + KV cache vs transformers' `generate` on the same
weights (a random Qwen3VLForConditionalGeneration, 36 layers, full vocabulary) with the same llguidance
constraint (our bounded caption grammar) and greedy decoding, on the CPU. With `--image` the prompt holds a
reference image (a random picture, up to 256 image tokens through a small random vision tower), and both sides
time the vision tower and the 3-D-position prefill as part of the run.

    python benchmarks/bench_magic_prompt.py [--hidden 256] [--tokens 192] [--threads 1] [--rounds 2] [--image]

Prints both rates, the ratio (ours / transformers; > 1 is faster) and how many leading tokens agree (they
match until our closing mode takes over in the last CLOSING_RESERVE tokens of the budget).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import llguidance
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ideogram4_core.caption import magic_decode  # noqa: E402
from ideogram4_core.caption.magic_decode import END_TOKEN, Sampling, generate_caption_tokens  # noqa: E402
from ideogram4_core.caption.magic_prompt import MagicPrompter  # noqa: E402
from ideogram4_core.caption.magic_text import chat_prompt, expand_message, image_message  # noqa: E402
from ideogram4_core.models.text_encoder import TextEncoder  # noqa: E402
from ideogram4_core.models.tokenizer import VISION_TOKEN_IDS, bundled_tokenizer_dir  # noqa: E402
from ideogram4_core.models.vision_input import PREPROCESSOR_FILE, image_patches  # noqa: E402

IDEA = 'a retro poster for a jazz night in Lisbon saying "FADO & JAZZ"'
IMAGE_PIXELS = 128 * 128
"""The reference image's resize ceiling: 256 image tokens with the tiny tower (patch 4, merge 2)."""


def _model(hidden: int):
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    heads = max(2, hidden // 64)
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": 151936, "hidden_size": hidden, "intermediate_size": 3 * hidden, "num_hidden_layers": 36,
            "num_attention_heads": heads, "num_key_value_heads": max(1, heads // 4), "head_dim": hidden // heads,
            "initializer_range": 0.1, "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000.0,
            "mrope_section": [hidden // heads // 4, hidden // heads // 8, hidden // heads // 8]},
        },
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2,
                       "out_hidden_size": hidden, "patch_size": 4, "num_position_embeddings": 16,
                       "deepstack_visual_indexes": [0]},
        tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    return Qwen3VLForConditionalGeneration(config).eval()


class _Constraint:
    """A transformers logits processor over an llguidance matcher of our caption grammar."""

    def __init__(self, vocabulary, prompt_length: int) -> None:
        self.matcher = llguidance.LLMatcher(vocabulary.ll, vocabulary.grammar)
        self.size, self.prompt_length = vocabulary.size, prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] > self.prompt_length:
            self.matcher.consume_token(int(input_ids[0, -1]))
        allowed = magic_decode._allowed(self.matcher, self.size)
        return scores.masked_fill(~allowed[: scores.shape[1]], float("-inf"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--tokens", type=int, default=192)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--image", action="store_true", help="a reference image in the prompt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = _model(args.hidden)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        (Path(tmp) / PREPROCESSOR_FILE).write_text(json.dumps({"min_pixels": 64, "max_pixels": IMAGE_PIXELS}))
        encoder = TextEncoder.load(tmp, bundled_tokenizer_dir(), device="cpu", dtype=torch.float32)
        prompter = MagicPrompter.from_text_encoder(encoder, None, tmp, torch.float32)
        vision = prompter.vision() if args.image else None  # read while the folder exists
    ours_image: dict = {}
    theirs_image: dict = {}
    if vision is None:
        message, _ = expand_message(IDEA, 1024, 1536)
        prompt = prompter.tokenizer.encode_text(chat_prompt(message))
    else:
        picture = torch.rand(160, 120, 3, generator=torch.Generator().manual_seed(0))
        patches, grid = image_patches(picture, vision.processing)
        tokens = grid[0] * grid[1] // vision.tower.config.spatial_merge_size**2
        message, _ = image_message("same layout, for a jazz night", 1024, 1536)
        prompt = prompter.tokenizer.encode_text(chat_prompt(message, tokens))
        ids = torch.tensor([prompt])
        mm_types = (ids == VISION_TOKEN_IDS["<|image_pad|>"]).int()
        theirs_image = {"pixel_values": patches, "image_grid_thw": torch.tensor([[1, *grid]]),
                        "mm_token_type_ids": mm_types}  # fmt: skip
    vocabulary = magic_decode._vocabulary(prompter.tokenizer, 151936)
    sampling = Sampling(temperature=0.0, max_new_tokens=args.tokens)
    ours_rate = theirs_rate = 0.0
    for _ in range(args.rounds):  # interleaved rounds, the fastest of each counts (shared machine)
        start = time.perf_counter()
        if vision is not None:
            with torch.inference_mode():
                ours_image = {"image": vision.tower(patches, grid)}
        ours = generate_caption_tokens(prompter.lm, prompter.tokenizer, prompt, sampling, **ours_image)
        ours_rate = max(ours_rate, len(ours) / (time.perf_counter() - start))
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([prompt]), max_new_tokens=args.tokens, do_sample=False, eos_token_id=END_TOKEN,
                logits_processor=[_Constraint(vocabulary, len(prompt))], pad_token_id=END_TOKEN, **theirs_image,
            )  # fmt: skip
        theirs = [t for t in out[0, len(prompt) :].tolist() if t != END_TOKEN]
        theirs_rate = max(theirs_rate, len(theirs) / (time.perf_counter() - start))
    same = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))
    image = f" with a reference image ({tokens} image tokens)" if vision is not None else ""
    print(f"model: 36 layers × {args.hidden} wide, prompt {len(prompt)} tokens{image}, budget {args.tokens}, "
          f"{args.threads} thread(s)")  # fmt: skip
    print(f"ours:         {ours_rate:7.1f} tokens/s ({len(ours)} tokens)")
    print(f"transformers: {theirs_rate:7.1f} tokens/s ({len(theirs)} tokens)")
    print(f"ratio ours/transformers: {ours_rate / theirs_rate:.2f}×; first {same} tokens identical")


if __name__ == "__main__":
    main()
