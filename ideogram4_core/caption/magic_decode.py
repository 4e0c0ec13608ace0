"""Constrained sampling for the magic prompt: llguidance masks every step to the bounded caption schema, and
the last CLOSING_RESERVE tokens of the budget close the JSON deterministically, so it always ends in time.

Sampling: temperature (0: greedy) and top-p over the allowed tokens, drawn from a CPU generator seeded once,
so the same seed gives the same tokens on every device.
"""

from __future__ import annotations

import importlib
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import CaptionError, Ideogram4Error
from ..models.causal_lm import CausalLM
from ..models.tokenizer import SPECIAL_TOKEN_IDS, CaptionTokenizer
from ..models.vision import ImageFeatures
from .magic_schema import generation_schema

if TYPE_CHECKING:
    import llguidance

CLOSING_RESERVE = 96
"""Tokens kept for closing the JSON: from here on each step takes the allowed token that ends the most."""
MIN_NEW_TOKENS = CLOSING_RESERVE + 32
END_TOKEN = SPECIAL_TOKEN_IDS["<|im_end|>"]
_CLOSERS = ('"', "]", "}", "0", ",")
"""Closing mode's preference after the end token: end a string, a list, an object; the smallest number; the
next required item. Otherwise the shortest allowed token."""
_COMPILE_OPTIONS = {"whitespace_flexible": False, "json_allowed_escapes": '"\\\\n'}
"""Minified JSON; the only escapes are \\", \\\\ and \\n (no \\uXXXX: non-ASCII text stays literal)."""


def _llguidance() -> ModuleType:
    """The structured-generation library, imported when first needed (the rest of the pack works without it)."""
    try:
        return importlib.import_module("llguidance")
    except ImportError:
        raise Ideogram4Error(
            "The magic prompt needs the llguidance package: run `pip install llguidance` in the Python that "
            "runs ComfyUI or the CLI (it is in this pack's requirements.txt)."
        ) from None


class GenerationCancelled(Ideogram4Error):
    """The caller asked to stop (checked before every token)."""


@dataclass(frozen=True)
class Sampling:
    """Sampling settings: seed, temperature (0 = greedy), nucleus top-p, token budget."""

    seed: int = 0
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 1536

    def check(self) -> None:
        if self.max_new_tokens < MIN_NEW_TOKENS:
            raise CaptionError(
                f"max new tokens {self.max_new_tokens} is too small for a caption; use at least {MIN_NEW_TOKENS}."
            )
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise CaptionError(f"temperature must be ≥ 0 and top-p in (0, 1]; got {self.temperature}, {self.top_p}.")


class _Vocabulary:
    """llguidance's view of a tokenizer plus what closing mode needs: the closers' ids and token lengths."""

    def __init__(self, tokenizer: CaptionTokenizer, vocab_size: int) -> None:
        llguidance = _llguidance()
        self.size = vocab_size
        self.ll = llguidance.LLTokenizer(tokenizer.backend_json(), n_vocab=vocab_size, eos_token=END_TOKEN)
        self.closers = [END_TOKEN] + [tokenizer.encode_text(text)[0] for text in _CLOSERS]
        lengths = [len(self.ll.decode_bytes([i])) or 1_000 for i in range(vocab_size)]
        self.lengths = torch.tensor(lengths)
        self.grammar = llguidance.LLMatcher.grammar_from_json_schema(
            json.dumps(generation_schema()), defaults=_COMPILE_OPTIONS
        )


_vocabularies: weakref.WeakKeyDictionary[CaptionTokenizer, _Vocabulary] = weakref.WeakKeyDictionary()


def _vocabulary(tokenizer: CaptionTokenizer, vocab_size: int) -> _Vocabulary:
    """Built once per tokenizer (a few seconds: llguidance reads the whole vocabulary)."""
    vocabulary = _vocabularies.get(tokenizer)
    if vocabulary is None or vocabulary.size != vocab_size:
        vocabulary = _vocabularies[tokenizer] = _Vocabulary(tokenizer, vocab_size)
    return vocabulary


def _allowed(matcher: llguidance.LLMatcher, size: int) -> torch.Tensor:
    bits = np.unpackbits(np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
    return torch.from_numpy(bits[:size].astype(bool))


def sample_token(logits: torch.Tensor, allowed: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    """One token id among `allowed` (bool, vocab) from float32 CPU `logits`.

    Top-p sorts only tokens with probability ≥ (1 - top_p) / vocab: the rest (total mass ≤ 1 - top_p) always
    fall outside the nucleus, so the result is the same as sorting them all.
    """
    logits = logits.masked_fill(~allowed, float("-inf"))
    if sampling.temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    candidates = (probs >= (1 - sampling.top_p) / probs.numel()).nonzero()[:, 0]
    ordered, order = probs[candidates].sort(descending=True)
    ordered = ordered * (ordered.cumsum(0) - ordered < sampling.top_p)
    return int(candidates[order[torch.multinomial(ordered, 1, generator=generator)]])


def _closing_token(allowed: torch.Tensor, vocabulary: _Vocabulary) -> int:
    for token in vocabulary.closers:
        if allowed[token]:
            return token
    return int(vocabulary.lengths.masked_fill(~allowed, 1 << 30).argmin())


def generate_caption_tokens(
    lm: CausalLM,
    tokenizer: CaptionTokenizer,
    prompt_ids: list[int],
    sampling: Sampling,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    image: ImageFeatures | None = None,
) -> list[int]:
    """The generated caption's token ids (end token excluded); `progress(done, budget)` after each token.
    `image` fills the prompt's image tokens."""
    sampling.check()
    vocabulary = _vocabulary(tokenizer, lm.head.out_features)
    matcher = _llguidance().LLMatcher(vocabulary.ll, vocabulary.grammar)
    if matcher.is_error():
        raise CaptionError(f"llguidance refused the caption grammar: {matcher.get_error()}")
    generator = torch.Generator().manual_seed(sampling.seed)
    cache = lm.new_cache(len(prompt_ids) + sampling.max_new_tokens)
    logits = lm.forward(torch.tensor(prompt_ids), cache, image=image)
    tokens: list[int] = []
    allowed = _allowed(matcher, vocabulary.size)
    while True:
        if should_stop is not None and should_stop():
            raise GenerationCancelled("Magic prompt cancelled.")
        if len(tokens) >= sampling.max_new_tokens - CLOSING_RESERVE:
            token = _closing_token(allowed, vocabulary)
        else:
            token = sample_token(logits.cpu(), allowed, sampling, generator)
        if token == END_TOKEN:
            return tokens
        if not matcher.consume_token(token):
            raise CaptionError(f"the caption grammar rejected token {token}: {matcher.get_error()}")
        tokens.append(token)
        if progress is not None:
            progress(len(tokens), sampling.max_new_tokens)
        allowed = _allowed(matcher, vocabulary.size)
        if matcher.is_stopped() or (allowed[END_TOKEN] and allowed.sum() == 1):
            return tokens
        if len(tokens) >= sampling.max_new_tokens:
            raise CaptionError(f"the caption did not close within {sampling.max_new_tokens} tokens.")
        logits = lm.forward(torch.tensor([token]), cache)
