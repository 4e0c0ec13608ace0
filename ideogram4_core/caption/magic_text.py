"""What the magic prompt tells the model: our system prompt and the user turn for each mode (expand an idea,
revise a caption, describe a reference image), rendered with Qwen's chat template."""

from __future__ import annotations

import math

from .magic_schema import ELEMENT_PALETTE_CAP, MAX_ELEMENTS, STYLE_PALETTE_CAP

MAX_IDEA_CHARS = 6000
"""Longer ideas are cut here (the caption stays valid; the result notes the cut)."""

SYSTEM_PROMPT = f"""You write captions for the Ideogram 4 image model. A caption is one minified JSON object:
{{"high_level_description": one sentence naming the subject and the medium,
 "style_description" (include it whenever the idea implies a look): {{"aesthetics", "lighting", then "photo" for \
photographs (camera, lens, film) or nothing, "medium", then "art_style" for anything that is not a photograph, \
"color_palette": up to {STYLE_PALETTE_CAP} colours as "#RRGGBB" in upper case}},
 "compositional_deconstruction": {{"background": the backdrop or setting, "elements": 1 to {MAX_ELEMENTS} items}}}}
Each element: {{"type": "obj" or "text", "bbox": [y_min, x_min, y_max, x_max], "text": only for text elements, \
"desc", "color_palette": up to {ELEMENT_PALETTE_CAP} colours}}.

Layout. Boxes are integers from 0 to 1000 relative to the image, origin at the top-left, y_min < y_max and \
x_min < x_max. Fit the layout to the target aspect ratio: in a tall image stack things vertically, in a wide one \
spread them side by side; keep a margin from the edges; the main subject gets the largest box; text boxes are \
wide and short for one line of large type.

Text. Every word the user wants written in the image becomes its own "text" element holding exactly those \
characters: same spelling, case, accents and punctuation, never translated unless asked. Describe its typeface, \
colour and placement in "desc".

Style. When the idea implies a style (a poster, a watercolour, a film still, a brand), add style_description \
with a palette of the colours that carry it. Commit to concrete values: one colour, one material, one count.

Rules. Describe only what is visible, concretely; the main subject comes first among the elements. Never more \
than {MAX_ELEMENTS} elements or the palette sizes above, whatever the user asks. Output the JSON object only."""


def aspect_ratio(width: int, height: int) -> str:
    """'W:H' in lowest terms with an orientation word, e.g. '16:9 (landscape)'."""
    divisor = math.gcd(width, height) or 1
    shape = "landscape" if width > height else "portrait" if height > width else "square"
    return f"{width // divisor}:{height // divisor} ({shape}, {width}×{height} pixels)"


def _clip(idea: str) -> tuple[str, bool]:
    idea = idea.strip()
    return idea[:MAX_IDEA_CHARS], len(idea) > MAX_IDEA_CHARS


def expand_message(idea: str, width: int, height: int) -> tuple[str, bool]:
    """The user turn that expands an idea (empty: the model invents a simple image); and whether it was cut."""
    idea, cut = _clip(idea)
    request = f"Idea: {idea}" if idea else "No idea was given: invent one simple, coherent image."
    return f"Target aspect ratio: {aspect_ratio(width, height)}.\n{request}", cut


def revise_message(caption: str, instruction: str, width: int, height: int) -> tuple[str, bool]:
    """The user turn that revises an existing caption; and whether the instruction was cut."""
    instruction, cut = _clip(instruction)
    change = instruction or "Improve it: fix the layout and make the descriptions concrete."
    return (
        f"Target aspect ratio: {aspect_ratio(width, height)}.\nHere is a caption:\n{caption}\n"
        f"Rewrite it with this change, keeping everything the change does not touch: {change}",
        cut,
    )


def image_message(idea: str, width: int, height: int) -> tuple[str, bool]:
    """The user turn (after the image) that describes the reference image as a caption, the idea steering it
    ("same layout, but for a bakery"); and whether the idea was cut."""
    idea, cut = _clip(idea)
    request = (
        "Write the caption of the image above: its subject, setting and style, every piece of text it shows "
        "exactly as written, and a layout of boxes that keeps its composition."
    )
    if idea:
        request += f" Change it as follows and keep the rest: {idea}"
    return f"Target aspect ratio: {aspect_ratio(width, height)}.\n{request}", cut


def chat_prompt(user_message: str, image_tokens: int = 0) -> str:
    """Qwen's chat template: system turn, user turn (opening with an image of `image_tokens` tokens when
    given), then the assistant's turn opened."""
    image = f"<|vision_start|>{'<|image_pad|>' * image_tokens}<|vision_end|>" if image_tokens else ""
    return (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{image}{user_message}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
