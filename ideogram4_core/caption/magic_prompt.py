"""Magic prompt: an idea (or a caption to revise) becomes a valid, laid-out caption, written by the text
encoder's own Qwen3-VL body run as a causal LM with an LM head (`models.causal_lm`), constrained to the caption
schema (`magic_decode`), repaired and verified (`magic_repair`).

Modes: expand an idea; revise a caption. A reference image needs Qwen3-VL's vision tower, which is not run
here: asking for it gives an error naming the weights it would need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CaptionError, ModelFileError
from ..models.causal_lm import CausalLM
from ..models.lm_head import find_lm_head, load_lm_head
from ..models.text_encoder import TextEncoder
from ..models.tokenizer import CaptionTokenizer
from .canonical import dumps_canonical
from .importer import import_caption
from .magic_decode import Sampling, generate_caption_tokens
from .magic_repair import finalize
from .magic_text import chat_prompt, expand_message, revise_message

DEFAULT_SAMPLING = Sampling()
ATTEMPTS = 3
"""Generations tried (seed, seed + 1, …) before giving up on a caption the repairs cannot make valid."""
VISION_MESSAGE = (
    "Magic prompt from a reference image needs Qwen3-VL-8B's vision tower (the visual.* tensors of the Hugging "
    "Face Qwen3-VL-8B-Instruct safetensors or of the official text_encoder/ folder), and this version runs the "
    "language tower only. Describe the image in words as the idea instead."
)


@dataclass
class MagicResult:
    """The caption (canonical JSON text), tokens generated, generations tried and what was repaired or cut."""

    caption: str
    tokens: int
    attempts: int
    notes: list[str] = field(default_factory=list)


class MagicPrompter:
    """Writes captions with a causal LM over a text encoder's body (shared, not copied)."""

    def __init__(self, lm: CausalLM, tokenizer: CaptionTokenizer) -> None:
        self.lm = lm
        self.tokenizer = tokenizer

    @classmethod
    def from_text_encoder(
        cls, encoder: TextEncoder, lm_head: str | Path | None, source: str | Path, dtype: torch.dtype
    ) -> MagicPrompter:
        """Over a loaded text encoder; `lm_head` None: looked up next to `source` (see `find_lm_head`)."""
        cfg = encoder.model.config
        head = load_lm_head(
            lm_head if lm_head is not None else find_lm_head(source),
            vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, device=encoder.device, dtype=dtype,
        )  # fmt: skip
        return cls(CausalLM(encoder.model, head), encoder.tokenizer)

    @staticmethod
    def refuse_image() -> None:
        """Reference images need the vision tower, which is not run: ModelFileError naming its weights."""
        raise ModelFileError(VISION_MESSAGE)

    def write(
        self,
        idea: str,
        width: int,
        height: int,
        sampling: Sampling = DEFAULT_SAMPLING,
        *,
        revise: str | None = None,
        image: object | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> MagicResult:
        """A caption for `idea` at width×height, or `revise` changed as `idea` asks; CaptionError if no valid
        caption came out of ATTEMPTS generations."""
        if image is not None:
            self.refuse_image()
        if width <= 0 or height <= 0:
            raise CaptionError(f"width and height must be positive; got {width}×{height}.")
        notes: list[str] = []
        if revise is None:
            message, cut = expand_message(idea, width, height)
        else:
            imported = import_caption(revise, (width, height))
            if imported.caption is None:
                raise CaptionError("The caption to revise is not a JSON caption; fix it or start from an idea.")
            message, cut = revise_message(dumps_canonical(imported.caption), idea, width, height)
        if cut:
            notes.append("the idea was cut to its first 6000 characters")
        prompt_ids = self.tokenizer.encode_text(chat_prompt(message))
        for attempt in range(ATTEMPTS):
            settings = dataclasses.replace(sampling, seed=sampling.seed + attempt)
            tokens = generate_caption_tokens(self.lm, self.tokenizer, prompt_ids, settings, progress, should_stop)
            caption, repairs, problems = finalize(self.tokenizer.decode(tokens))
            if not problems:
                return MagicResult(caption, len(tokens), attempt + 1, notes + repairs)
        raise CaptionError(f"No valid caption after {ATTEMPTS} generations: {problems[0].line()}")
