"""Magic prompt: an idea (or a caption to revise, or a reference image) becomes a valid, laid-out caption,
written by the text encoder's own Qwen3-VL body run as a causal LM with an LM head (`models.causal_lm`),
constrained to the caption schema (`magic_decode`), repaired and verified (`magic_repair`).

Modes: expand an idea; revise a caption; describe a reference image (Qwen3-VL's vision tower, `models.vision`,
loaded only when an image is given), the idea steering it. An image and a caption to revise are not combined.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CaptionError, ModelFileError
from ..models.causal_lm import CausalLM
from ..models.lm_head import find_lm_head, load_lm_head
from ..models.text_encoder import TextEncoder
from ..models.tokenizer import VISION_TOKEN_IDS, CaptionTokenizer
from ..models.vision import WHERE_VISION, ImageFeatures, VisionEncoder, load_vision_encoder
from .canonical import dumps_canonical
from .importer import import_caption
from .magic_decode import Sampling, generate_caption_tokens
from .magic_repair import finalize
from .magic_text import chat_prompt, expand_message, image_message, revise_message

DEFAULT_SAMPLING = Sampling()
ATTEMPTS = 3
"""Generations tried (seed, seed + 1, …) before giving up on a caption the repairs cannot make valid."""


@dataclass
class MagicResult:
    """The caption (canonical JSON text), tokens generated, generations tried and what was repaired or cut."""

    caption: str
    tokens: int
    attempts: int
    notes: list[str] = field(default_factory=list)


class MagicPrompter:
    """Writes captions with a causal LM over a text encoder's body (shared, not copied). `vision` gives the
    vision encoder when a reference image comes (None: images are refused, naming the weights they need)."""

    def __init__(
        self, lm: CausalLM, tokenizer: CaptionTokenizer, vision: Callable[[], VisionEncoder] | None = None
    ) -> None:
        self.lm = lm
        self.tokenizer = tokenizer
        self.vision = vision

    @classmethod
    def from_text_encoder(
        cls, encoder: TextEncoder, lm_head: str | Path | None, source: str | Path, dtype: torch.dtype
    ) -> MagicPrompter:
        """Over a loaded text encoder; `lm_head` None: looked up next to `source` (see `find_lm_head`). The
        vision tower is read from `source` the first time an image comes, then kept."""
        cfg = encoder.model.config
        head = load_lm_head(
            lm_head if lm_head is not None else find_lm_head(source),
            vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, device=encoder.device, dtype=dtype,
        )  # fmt: skip
        vision = functools.cache(functools.partial(load_vision_encoder, source, device=encoder.device, dtype=dtype))
        return cls(CausalLM(encoder.model, head), encoder.tokenizer, vision)

    def write(
        self,
        idea: str,
        width: int,
        height: int,
        sampling: Sampling = DEFAULT_SAMPLING,
        *,
        revise: str | None = None,
        image: torch.Tensor | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> MagicResult:
        """A caption for `idea` at width×height, or `revise` changed as `idea` asks, or the caption of `image`
        (H, W, 3) RGB in [0, 1] steered by `idea`; CaptionError if no valid caption came out of ATTEMPTS
        generations."""
        if width <= 0 or height <= 0:
            raise CaptionError(f"width and height must be positive; got {width}×{height}.")
        notes: list[str] = []
        features = None
        if image is not None:
            if revise is not None:
                raise CaptionError(
                    "A reference image and a caption to revise cannot be combined: give only one (then revise "
                    "the caption the image gives in a second run)."
                )
            features = self._encode_image(image)
            message, cut = image_message(idea, width, height)
        elif revise is None:
            message, cut = expand_message(idea, width, height)
        else:
            imported = import_caption(revise, (width, height))
            if imported.caption is None:
                raise CaptionError("The caption to revise is not a JSON caption; fix it or start from an idea.")
            message, cut = revise_message(dumps_canonical(imported.caption), idea, width, height)
        if cut:
            notes.append("the idea was cut to its first 6000 characters")
        prompt_ids = self.tokenizer.encode_text(chat_prompt(message, features.tokens if features else 0))
        for attempt in range(ATTEMPTS):
            settings = dataclasses.replace(sampling, seed=sampling.seed + attempt)
            tokens = generate_caption_tokens(
                self.lm, self.tokenizer, prompt_ids, settings, progress, should_stop, features
            )
            caption, repairs, problems = finalize(self.tokenizer.decode(tokens))
            if not problems:
                return MagicResult(caption, len(tokens), attempt + 1, notes + repairs)
        raise CaptionError(f"No valid caption after {ATTEMPTS} generations: {problems[0].line()}")

    def _encode_image(self, image: torch.Tensor) -> ImageFeatures:
        if self.vision is None:
            raise ModelFileError(WHERE_VISION)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise CaptionError(f"The reference image must be (height, width, 3) RGB; got shape {tuple(image.shape)}.")
        markers = "".join(VISION_TOKEN_IDS)
        if self.tokenizer.encode_text(markers) != list(VISION_TOKEN_IDS.values()):
            raise ModelFileError(
                "The tokenizer lacks Qwen3-VL's image tokens (<|vision_start|>, <|image_pad|>, <|vision_end|>); "
                "use the tokenizer that ships with the Qwen3-VL text encoder."
            )
        return self.vision().encode(image)
