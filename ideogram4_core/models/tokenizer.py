"""Caption tokenizer: the Qwen2 byte-level BPE and the fixed chat template the text encoder was trained with."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from ..errors import CaptionError, ModelFileError

CAPTION_TEMPLATE = "<|im_start|>user\n{caption}<|im_end|>\n<|im_start|>assistant\n"
MAX_CAPTION_TOKENS = 2048
SPECIAL_TOKEN_IDS = {"<|im_start|>": 151644, "<|im_end|>": 151645}
VISION_TOKEN_IDS = {"<|vision_start|>": 151652, "<|vision_end|>": 151653, "<|image_pad|>": 151655}
"""Qwen3-VL's image markers: an image's tokens sit between start and end, one <|image_pad|> per merged patch."""


def bundled_tokenizer_dir() -> Path:
    """The Qwen2 BPE files shipped in this package (`data/qwen_tokenizer`, Apache-2.0): the same vocabulary and
    special tokens Qwen3-VL uses for text, for files that carry no tokenizer of their own."""
    return Path(__file__).resolve().parents[1] / "data" / "qwen_tokenizer"


# Qwen2's pre-tokenizer split pattern (applied before the byte-level mapping).
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def render_caption(caption: str) -> str:
    """The exact text the encoder sees: one user turn holding the caption, then the assistant prompt."""
    return CAPTION_TEMPLATE.format(caption=caption)


class CaptionTokenizer:
    """Turns captions into token ids for the text encoder (template applied, no extra special tokens)."""

    def __init__(self, tokenizer: Tokenizer, source: str = "tokenizer") -> None:
        for token, expected in SPECIAL_TOKEN_IDS.items():
            found = tokenizer.token_to_id(token)
            if found != expected:
                raise ModelFileError(
                    f"{source} maps {token} to {found}, not {expected}; it is not the Qwen2/Qwen3 tokenizer. "
                    "Use the tokenizer/ folder of the Ideogram 4 repo."
                )
        self._tokenizer = tokenizer

    @classmethod
    def from_folder(cls, folder: str | Path) -> CaptionTokenizer:
        """Load from tokenizer.json, or from vocab.json + merges.txt (+ added tokens from tokenizer_config.json)."""
        folder = Path(folder)
        if (folder / "tokenizer.json").is_file():
            return cls(Tokenizer.from_file(str(folder / "tokenizer.json")), str(folder))
        if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
            vocab, merges = models.BPE.read_file(str(folder / "vocab.json"), str(folder / "merges.txt"))
            return cls(_qwen2_bpe(vocab, merges, _added_tokens(folder), str(folder)), str(folder))
        raise ModelFileError(
            f"No tokenizer in {folder} (expected tokenizer.json, or vocab.json + merges.txt). "
            "Point to the tokenizer/ folder of the Ideogram 4 repo."
        )

    @classmethod
    def from_vocabulary(
        cls, tokens: list[str], merges: list[str], added: dict[int, str], source: str
    ) -> CaptionTokenizer:
        """From a token list (id order, added tokens left out), BPE merges ("a b") and added tokens by id, as a
        GGUF stores its tokenizer; the same Qwen2 pre-tokenizer and byte-level mapping as the files."""
        vocab = {token: index for index, token in enumerate(tokens)}
        pairs = [tuple(merge.split(" ", 1)) for merge in merges]
        return cls(_qwen2_bpe(vocab, pairs, added, source), source)

    @property
    def vocab_size(self) -> int:
        """Number of ids the tokenizer can produce (added tokens included)."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def count_tokens(self, caption: str) -> int:
        """Tokens the encoder sees for this caption, template included; MAX_CAPTION_TOKENS applies to it."""
        return len(self._encode(caption))

    def token_ids(self, caption: str) -> list[int]:
        """Token ids of the rendered caption; CaptionError when it is empty or longer than MAX_CAPTION_TOKENS."""
        if not caption.strip():
            raise CaptionError("The caption is empty. Write a caption (ideally the JSON caption format).")
        ids = self._encode(caption)
        if len(ids) > MAX_CAPTION_TOKENS:
            raise CaptionError(
                f"The caption is {len(ids)} tokens long (template included), over the limit of {MAX_CAPTION_TOKENS}. "
                "Shorten it, e.g. fewer or shorter element descriptions."
            )
        return ids

    def encode_text(self, text: str) -> list[int]:
        """Token ids of `text` as written (special tokens such as <|im_start|> in it become their ids)."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, token_ids: list[int]) -> str:
        """The text of `token_ids` (special tokens left out)."""
        return self._tokenizer.decode(token_ids, skip_special_tokens=True)

    def backend_json(self) -> str:
        """The tokenizer in Hugging Face tokenizers' JSON form (what structured-generation libraries read)."""
        return self._tokenizer.to_str()

    def _encode(self, caption: str) -> list[int]:
        return self._tokenizer.encode(render_caption(caption), add_special_tokens=False).ids


def _qwen2_bpe(vocab: dict[str, int], merges: list, added: dict[int, str], source: str) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [AddedToken(content, special=True, normalized=False) for _, content in sorted(added.items())]
    )
    for token_id, content in added.items():
        if tokenizer.token_to_id(content) != token_id:
            raise ModelFileError(
                f"The added token {content} in {source} gets id {tokenizer.token_to_id(content)}, not {token_id}; "
                "the tokenizer is inconsistent. Download it again or pass the tokenizer/ folder of the Ideogram 4 repo."
            )
    return tokenizer


def _added_tokens(folder: Path) -> dict[int, str]:
    """Added (special) tokens by id, from tokenizer_config.json and/or added_tokens.json."""
    added: dict[int, str] = {}
    config = folder / "tokenizer_config.json"
    if config.is_file():
        decoder = json.loads(config.read_text(encoding="utf-8")).get("added_tokens_decoder", {})
        added.update({int(i): entry["content"] for i, entry in decoder.items()})
    extra = folder / "added_tokens.json"
    if extra.is_file():
        added.update({int(i): content for content, i in json.loads(extra.read_text(encoding="utf-8")).items()})
    return added
