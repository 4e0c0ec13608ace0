"""The example workflows of `example_workflows/`, as graphs to build in the real frontend.

Each spec lists nodes (type, position, widget values by name) and links (from node, output slot, to node, input
name). `test_workflows_comfyui.py` builds them with LiteGraph in the real ComfyUI page and stores what the
frontend writes (`app.graph.serialize()`, the UI format) and what it queues (`app.graphToPrompt()`, the API
format) — so the files are exactly the frontend's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .model_files import FOLDER, FP8_MODEL, FP8_UNCONDITIONAL, LORA_FILE, TEXT_ENCODER_FILE, VAE_FILE

FOLDER_MODEL = f"{FOLDER}/"


def _caption(background: str, elements: list[dict[str, Any]], description: str, style: dict[str, Any]) -> str:
    caption = {
        "high_level_description": description,
        "style_description": style,
        "compositional_deconstruction": {"background": background, "elements": elements},
    }
    return json.dumps(caption, ensure_ascii=False, indent=2)


PHOTO_CAPTION = _caption(
    "a misty pine forest at sunrise, soft golden light between the trunks",
    [
        {
            "type": "obj",
            "bbox": [380, 300, 900, 700],
            "desc": "a red fox sitting on a mossy rock, looking up",
        },
        {"type": "obj", "bbox": [0, 0, 260, 1000], "desc": "warm sunbeams falling through the treetops"},
    ],
    "A wildlife photograph of a red fox in a misty forest at sunrise",
    {
        "aesthetics": "calm, natural, detailed",
        "lighting": "golden hour backlight with haze",
        "medium": "photograph",
        "art_style": "wildlife photography, shallow depth of field",
        "color_palette": ["#D9822B", "#2F4A3A", "#F2D7A0"],
    },
)
POSTER_CAPTION = {
    "high_level_description": "A bold concert poster with a headline, a guitar illustration and the date",
    "style_description": {
        "aesthetics": "bold, retro, high contrast",
        "lighting": "flat",
        "medium": "screen print",
        "art_style": "1970s gig poster, flat shapes",
        "color_palette": ["#F4E3C1", "#E4572E", "#17255A"],
    },
    "compositional_deconstruction": {
        "background": "cream paper with a subtle halftone texture",
        "elements": [
            {"type": "text", "bbox": [60, 80, 220, 920], "text": "NIGHT SOUNDS", "desc": "huge condensed headline"},
            {"type": "obj", "bbox": [260, 200, 780, 800], "desc": "a stylised electric guitar in orange and navy"},
            {"type": "text", "bbox": [820, 150, 900, 850], "text": "FRIDAY 12 JUNE · 8 PM", "desc": "navy caps"},
        ],
    },
}
BATCH_CAPTION = _caption(
    "a pastel studio backdrop",
    [
        {"type": "obj", "bbox": [200, 120, 820, 520], "desc": "a glossy ceramic mug with steam rising"},
        {"type": "obj", "bbox": [420, 560, 820, 900], "desc": "a stack of three macarons"},
        {"type": "text", "bbox": [60, 100, 160, 900], "text": "MORNING", "desc": "thin white sans-serif"},
    ],
    "A product shot of a ceramic mug and macarons with a headline",
    {
        "aesthetics": "soft, minimal, airy",
        "lighting": "diffuse softbox light",
        "medium": "photograph",
        "art_style": "product photography",
        "color_palette": ["#F7D6E0", "#B2F7EF", "#FFFFFF"],
    },
)

EDITED_POSTER_CAPTION = json.loads(json.dumps(POSTER_CAPTION))
EDITED_POSTER_CAPTION["compositional_deconstruction"]["elements"][0]["text"] = "DAY SOUNDS"
# Pictures the editing examples load (users pick their own; the e2e suite puts these in ComfyUI's input folder).
PICTURE = "ideogram4_example.png"
POSTER_PICTURE = "ideogram4_poster.png"
TRANSPARENT_PICTURE = "ideogram4_example_masked.png"  # its transparent area is Load Image's MASK

FOLDER_NOTE = """Model files (official folder)

Put the whole Ideogram 4 repository folder, named ideogram-4, in ONE of:
  ComfyUI/models/diffusers/ideogram-4/
  ComfyUI/models/diffusion_models/ideogram-4/
It holds transformer/, unconditional_transformer/, text_encoder/, tokenizer/ and vae/.
Pick "ideogram-4/" in Load Model, "ideogram-4/text_encoder/" in Load Text Encoder and "ideogram-4/vae/" in
Load VAE. bf16, fp8 and nf4 releases of the folder all work (the format is detected).
Sizes: multiples of 16, 256-2048 per side."""

FILES_NOTE = """Model files (ComfyUI single files)

  ComfyUI/models/diffusion_models/ideogram4_fp8_scaled.safetensors
  ComfyUI/models/diffusion_models/ideogram4_unconditional_fp8_scaled.safetensors
  ComfyUI/models/text_encoders/qwen3vl_8b_fp8_scaled.safetensors
  ComfyUI/models/vae/flux2-vae.safetensors

"auto" as the unconditional model finds the file named like the model with "unconditional".
The tokenizer "auto" uses the Qwen tokenizer bundled with ComfyUI."""

POSTER_NOTE = """Caption Builder

Draw boxes on the canvas, type the text each box should show and pick the palette; the node writes the
JSON caption the model was trained on. Its width and height drive the sampler, so the layout and the image
always have the same size. Turn "strict" on to stop on any caption error instead of repairing it.
Model files: see the single-files example (models/diffusion_models, text_encoders, vae)."""

BATCH_NOTE = """Batch + caption overlay

The sampler makes batch_size images from one caption (seeds follow the reference's noise rule).
Caption Overlay draws every element's box and label on the images, to check the layout;
Save Image keeps the clean images.
Model files: see the single-files example (models/diffusion_models, text_encoders, vae)."""

LORA_NOTE = """LoRA (few-step)

Put LoRA files in ComfyUI/models/loras/ (diffusers/PEFT, ai-toolkit, kohya/ComfyUI and OneTrainer layouts).
strength_cond applies it to the conditional branch, strength_uncond to the unconditional one; chain several
LoRA nodes to stack them. A few-step LoRA runs at guidance 1 ("Few-step LoRA" presets): the unconditional
model is never run, so Load Model can use unconditional "none". Changing a strength re-runs only the LoRA
node and the sampler; the model stays loaded.
Model files: see the single-files example (models/diffusion_models, text_encoders, vae)."""

EDIT_SIZE_NOTE = """Sides that are not multiples of 16 are resized by VAE Encode (fit: resize or crop)."""

IMG2IMG_NOTE = f"""Image to image

Load Image -> VAE Encode -> Sampler (latent input) -> VAE Decode. denoise is how much changes: 0.3 keeps
the layout and colours, 0.6 (here) repaints details, 1.0 starts from noise. The image size is the picture's
(the sampler's width/height are ignored with a latent). Describe the picture you want in the caption.
{EDIT_SIZE_NOTE}
Model files: see the single-files example (models/diffusion_models, text_encoders, vae)."""

INPAINT_NOTE = f"""Inpainting with the mask editor

Right-click Load Image -> "Open in MaskEditor", paint over what should change, save. Its MASK goes to
Set Latent Noise Mask: the sampler repaints only there (soft edges are averaged per 16x16 token) and keeps
every other token exactly. Image Composite Masked pastes the result over the picture inside the mask only,
so the VAE never touches kept pixels. The caption describes the whole picture with the new content.
{EDIT_SIZE_NOTE}
Model files: see the single-files example (models/diffusion_models, text_encoders, vae)."""

HEADLINE_NOTE = f"""Change one headline's text

The Caption Builder holds the poster's caption with the picture as its underlay. Edit the headline's text,
tick the element to re-render (1 here) and set width/height to the picture's size. Element Mask turns the
ticked boxes plus a margin into a MASK; the sampler repaints only there and Image Composite Masked keeps
every other pixel of the picture. A bigger margin blends better, a smaller one keeps more.
{EDIT_SIZE_NOTE}
Model files: see the single-files example (models/diffusion_models, text_encoders, vae)."""

OUTPAINT_NOTE = """Outpainting

Pad Image for Outpainting enlarges the canvas (pixels per side; keep the new size a multiple of 16) and
masks the new area, its feathering softening the seam into the picture. The sampler paints the new area
from noise (denoise 1) and keeps the rest; Image Composite Masked pastes the original back. The caption
describes the whole enlarged picture.
Model files: see the single-files example (models/diffusion_models, text_encoders, vae)."""


@dataclass(frozen=True)
class Node:
    key: str
    type: str
    pos: tuple[int, int]
    widgets: dict[str, Any] = field(default_factory=dict)
    size: tuple[int, int] | None = None


Link = tuple[str, int, str, str]  # (from node, output slot, to node, input name)


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]

    def as_js(self) -> dict[str, Any]:
        nodes = [
            {"key": n.key, "type": n.type, "pos": list(n.pos), "widgets": n.widgets, "size": n.size} for n in self.nodes
        ]
        return {"nodes": nodes, "links": [list(link) for link in self.links]}


def _loaders(model: str, unconditional: str, text_encoder: str, vae: str) -> tuple[Node, ...]:
    return (
        Node("model", "IG4_ModelLoader", (440, 40), {"model": model, "unconditional_model": unconditional}),
        Node("te", "IG4_TextEncoderLoader", (440, 300), {"text_encoder": text_encoder}),
        Node("vae", "IG4_VAELoader", (440, 520), {"vae": vae}),
    )


def _sampler(
    x: int, preset: str, batch_size: int = 1, width: int = 1024, height: int = 1024, denoise: float | None = None
) -> Node:
    widgets = {"width": width, "height": height, "seed": 42, "control_after_generate": "fixed", "preset": preset}
    edit = {} if denoise is None else {"denoise": denoise}
    return Node("sampler", "IG4_Sampler", (x, 40), widgets | {"batch_size": batch_size} | edit)


_CHAIN_LINKS: tuple[Link, ...] = (
    ("te", 0, "encode", "text_encoder"),
    ("model", 0, "sampler", "model"),
    ("encode", 0, "sampler", "conditioning"),
    ("vae", 0, "decode", "vae"),
    ("sampler", 0, "decode", "samples"),
)


def _text_to_image(name: str, note: str, loaders: tuple[Node, ...], prefix: str) -> WorkflowSpec:
    nodes = (
        Node("note", "Note", (20, 40), {"text": note}, size=(390, 420)),
        *loaders,
        Node("encode", "IG4_TextEncode", (860, 300), {"caption": PHOTO_CAPTION}, size=(420, 360)),
        _sampler(1320, "Default (20 steps)"),
        Node("decode", "IG4_VAEDecode", (1700, 40)),
        Node("save", "SaveImage", (1980, 40), {"filename_prefix": prefix}, size=(420, 480)),
    )
    return WorkflowSpec(name, nodes, (*_CHAIN_LINKS, ("decode", 0, "save", "images")))


FILE_LOADERS = _loaders(FP8_MODEL, FP8_UNCONDITIONAL, TEXT_ENCODER_FILE, VAE_FILE)

POSTER = WorkflowSpec(
    "ideogram4_poster_caption_builder",
    (
        Node("note", "Note", (20, 40), {"text": POSTER_NOTE}, size=(390, 300)),
        *FILE_LOADERS,
        Node(
            "builder",
            "IG4_CaptionBuilder",
            (20, 760),
            {"width": 768, "height": 1024, "document": json.dumps({"caption": POSTER_CAPTION, "editor": {}})},
            size=(820, 900),
        ),
        Node("encode", "IG4_TextEncode", (900, 300), size=(400, 300)),
        _sampler(1340, "Quality (48 steps)"),
        Node("decode", "IG4_VAEDecode", (1720, 40)),
        Node("save", "SaveImage", (2000, 40), {"filename_prefix": "ideogram4/poster"}, size=(420, 560)),
    ),
    (
        *_CHAIN_LINKS,
        ("builder", 0, "encode", "caption"),
        ("builder", 1, "sampler", "width"),
        ("builder", 2, "sampler", "height"),
        ("decode", 0, "save", "images"),
    ),
)

BATCH = WorkflowSpec(
    "ideogram4_batch_caption_overlay",
    (
        Node("note", "Note", (20, 40), {"text": BATCH_NOTE}, size=(390, 260)),
        *FILE_LOADERS,
        Node("caption", "PrimitiveStringMultiline", (20, 760), {"value": BATCH_CAPTION}, size=(820, 420)),
        Node("encode", "IG4_TextEncode", (900, 300), size=(400, 300)),
        _sampler(1340, "Turbo (12 steps)", batch_size=2, width=1024, height=768),
        Node("decode", "IG4_VAEDecode", (1720, 40)),
        Node("overlay", "IG4_CaptionOverlay", (1720, 260), size=(300, 120)),
        Node("save", "SaveImage", (2060, 40), {"filename_prefix": "ideogram4/batch"}, size=(420, 420)),
        Node("preview", "PreviewImage", (2060, 520), size=(420, 420)),
    ),
    (
        *_CHAIN_LINKS,
        ("caption", 0, "encode", "caption"),
        ("caption", 0, "overlay", "caption"),
        ("decode", 0, "save", "images"),
        ("decode", 0, "overlay", "image"),
        ("overlay", 0, "preview", "images"),
    ),
)

LORA = WorkflowSpec(
    "ideogram4_lora_few_step",
    (
        Node("note", "Note", (20, 40), {"text": LORA_NOTE}, size=(390, 300)),
        *FILE_LOADERS,
        Node("lora", "IG4_LoraLoader", (860, 40), {"lora": LORA_FILE, "strength_cond": 1.0, "strength_uncond": 0.0}),
        Node("encode", "IG4_TextEncode", (860, 300), {"caption": PHOTO_CAPTION}, size=(420, 360)),
        _sampler(1320, "Few-step LoRA (8 steps)"),
        Node("decode", "IG4_VAEDecode", (1700, 40)),
        Node("save", "SaveImage", (1980, 40), {"filename_prefix": "ideogram4/lora"}, size=(420, 480)),
    ),
    (
        *(link for link in _CHAIN_LINKS if link[0] != "model"),
        ("model", 0, "lora", "model"),
        ("lora", 0, "sampler", "model"),
        ("decode", 0, "save", "images"),
    ),
)

_EDIT_LINKS: tuple[Link, ...] = (*_CHAIN_LINKS, ("vae", 0, "encode_image", "vae"))


def _edit(
    name: str, note: str, picture: str, extra: tuple[Node, ...], links: tuple[Link, ...], prefix: str, **sampler
) -> WorkflowSpec:
    """An editing workflow: the loaders, Load Image, VAE Encode, the sampler, VAE Decode and Save Image, plus
    `extra` nodes and `links` (the ones that bring the picture to the sampler and the result to Save Image)."""
    nodes = (
        Node("note", "Note", (20, 40), {"text": note}, size=(390, 360)),
        *FILE_LOADERS,
        Node("picture", "LoadImage", (20, 760), {"image": picture}, size=(360, 420)),
        Node("encode_image", "IG4_VAEEncode", (440, 760)),
        *extra,
        _sampler(1320, "Default (20 steps)", **sampler),
        Node("decode", "IG4_VAEDecode", (1700, 40)),
        Node("save", "SaveImage", (2000, 40), {"filename_prefix": prefix}, size=(420, 480)),
    )
    return WorkflowSpec(name, nodes, (*_EDIT_LINKS, *links))


_PHOTO_ENCODE = Node("encode", "IG4_TextEncode", (860, 300), {"caption": PHOTO_CAPTION}, size=(420, 360))
_PICTURE_TO_ENCODE: Link = ("picture", 0, "encode_image", "image")
_COMPOSITE = Node("composite", "ImageCompositeMasked", (1700, 240), {"resize_source": True})

IMG2IMG = _edit(
    "ideogram4_img2img",
    IMG2IMG_NOTE,
    PICTURE,
    (_PHOTO_ENCODE,),
    (_PICTURE_TO_ENCODE, ("encode_image", 0, "sampler", "latent"), ("decode", 0, "save", "images")),
    "ideogram4/img2img",
    denoise=0.6,
)

INPAINT = _edit(
    "ideogram4_inpaint_mask_editor",
    INPAINT_NOTE,
    TRANSPARENT_PICTURE,
    (_PHOTO_ENCODE, Node("noise_mask", "SetLatentNoiseMask", (860, 760)), _COMPOSITE),
    (
        _PICTURE_TO_ENCODE,
        ("encode_image", 0, "noise_mask", "samples"),
        ("picture", 1, "noise_mask", "mask"),
        ("noise_mask", 0, "sampler", "latent"),
        ("picture", 0, "composite", "destination"),
        ("decode", 0, "composite", "source"),
        ("picture", 1, "composite", "mask"),
        ("composite", 0, "save", "images"),
    ),
    "ideogram4/inpaint",
)

HEADLINE = _edit(
    "ideogram4_edit_headline",
    HEADLINE_NOTE,
    POSTER_PICTURE,
    (
        Node(
            "builder",
            "IG4_CaptionBuilder",
            (20, 1240),
            {
                "width": 768,
                "height": 1024,
                "document": json.dumps({"caption": EDITED_POSTER_CAPTION, "editor": {}, "edit_elements": [1]}),
            },
            size=(820, 900),
        ),
        Node("encode", "IG4_TextEncode", (900, 300), size=(400, 300)),
        Node("element_mask", "IG4_ElementMask", (900, 760), {"margin": 16}),
        Node("noise_mask", "SetLatentNoiseMask", (900, 1000)),
        _COMPOSITE,
    ),
    (
        _PICTURE_TO_ENCODE,
        ("picture", 0, "builder", "reference_image"),
        ("builder", 0, "encode", "caption"),
        ("builder", 0, "element_mask", "caption"),
        ("builder", 3, "element_mask", "elements"),
        ("builder", 1, "element_mask", "width"),
        ("builder", 2, "element_mask", "height"),
        ("encode_image", 0, "noise_mask", "samples"),
        ("element_mask", 0, "noise_mask", "mask"),
        ("noise_mask", 0, "sampler", "latent"),
        ("picture", 0, "composite", "destination"),
        ("decode", 0, "composite", "source"),
        ("element_mask", 0, "composite", "mask"),
        ("composite", 0, "save", "images"),
    ),
    "ideogram4/headline",
)

OUTPAINT = _edit(
    "ideogram4_outpaint",
    OUTPAINT_NOTE,
    PICTURE,
    (
        _PHOTO_ENCODE,
        Node("pad", "ImagePadForOutpaint", (440, 960), {"right": 256, "feathering": 32}),
        Node("noise_mask", "SetLatentNoiseMask", (860, 760)),
        _COMPOSITE,
    ),
    (
        ("picture", 0, "pad", "image"),
        ("pad", 0, "encode_image", "image"),
        ("encode_image", 0, "noise_mask", "samples"),
        ("pad", 1, "noise_mask", "mask"),
        ("noise_mask", 0, "sampler", "latent"),
        ("pad", 0, "composite", "destination"),
        ("decode", 0, "composite", "source"),
        ("pad", 1, "composite", "mask"),
        ("composite", 0, "save", "images"),
    ),
    "ideogram4/outpaint",
)

SPECS: tuple[WorkflowSpec, ...] = (
    _text_to_image(
        "ideogram4_text_to_image",
        FOLDER_NOTE,
        _loaders(FOLDER_MODEL, "auto", f"{FOLDER_MODEL}text_encoder/", f"{FOLDER_MODEL}vae/"),
        "ideogram4/t2i",
    ),
    _text_to_image("ideogram4_single_files", FILES_NOTE, FILE_LOADERS, "ideogram4/single_files"),
    POSTER,
    BATCH,
    LORA,
    IMG2IMG,
    INPAINT,
    HEADLINE,
    OUTPAINT,
)
