"""The seam of an element edit: how kept pixels and the mask's border look with and without compositing and
feathering.

    python benchmarks/bench_edit_seam.py [--model DIR] [--image PICTURE] [--size 256] [--preset V4_TURBO_12]
                                         [--margin 16] [--feathers 0,4,8,16]

Re-renders element 1 of a caption (a box in the middle of the picture, widened by `--margin`) with denoise 1,
as `generate --edit-elements 1` does, once without compositing and once composited per feather radius, and
prints per run (pixel values 0..255):

- kept %: the share of the picture the mask keeps (mask exactly 0; feathering spreads the mask outwards);
- kept max / mean: |result − picture| over those pixels;
- border step: mean |difference| of the pixel pairs straddling the box's edge (before feathering), and
  `seam` = border step ÷ the picture's own step at the same pairs: 1 means the edge is as smooth as the
  picture there, larger is a visible line.

Without `--model` it renders the tiny random demo model (`ideogram4_core.demo`): its repainted content has
nothing to do with the picture, the worst case for a seam; give the official folder for real numbers. Without
`--image` the picture is a synthetic photo-like one (smooth gradients, soft shapes, fine noise).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ideogram4_core.caption.elements import element_boxes  # noqa: E402
from ideogram4_core.demo import write_demo_model  # noqa: E402
from ideogram4_core.editing import Edit, resize_image  # noqa: E402
from ideogram4_core.image_files import load_picture  # noqa: E402
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths  # noqa: E402
from ideogram4_core.sampling.masks import box_mask, feather  # noqa: E402
from ideogram4_core.sampling.schedule import preset  # noqa: E402

BOX = [300, 250, 700, 750]  # element 1's bbox: [y_min, x_min, y_max, x_max] on 0..1000
CAPTION = json.dumps(
    {
        "compositional_deconstruction": {
            "background": "a soft blue gradient with warm round shapes",
            "elements": [{"type": "text", "bbox": BOX, "text": "HELLO", "desc": "bold white headline"}],
        }
    }
)


def synthetic_picture(size: int) -> torch.Tensor:
    """(1, size, size, 3) in [0, 1]: gradients, soft discs and fine noise (a picture with some texture)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, 0.7 - 0.3 * x * y], -1)
    for _ in range(8):
        cy, cx, r = rng.uniform(0, 1, 3) * (1, 1, 0.25)
        disc = np.clip(1 - np.hypot(y - cy, x - cx) / max(r, 0.05), 0, 1)[..., None]
        rgb = rgb * (1 - 0.6 * disc) + 0.6 * disc * rng.uniform(0, 1, 3)
    rgb += rng.normal(0, 0.01, rgb.shape)
    return torch.from_numpy(np.clip(rgb, 0, 1)).float()[None]


def border_steps(image: np.ndarray, hard: np.ndarray) -> np.ndarray:
    """|difference| (over channels) of every horizontally or vertically adjacent pixel pair that the hard (0/1)
    mask's edge separates."""
    steps = []
    for axis in (0, 1):
        crossing = np.diff(hard, axis=axis) != 0
        steps.append(np.abs(np.diff(image, axis=axis))[crossing])
    return np.concatenate(steps)


COLUMNS = {"kept %": "{:.1f}", "kept max": "{:.2f}", "kept mean": "{:.3f}", "border step": "{:.2f}", "seam": "{:.2f}"}


def measure(result: np.ndarray, picture: np.ndarray, mask: np.ndarray, hard: np.ndarray) -> list[float]:
    """The values of COLUMNS for one result."""
    kept = mask == 0
    drift = np.abs(result - picture)[kept]
    step = border_steps(result, hard).mean()
    return [100 * kept.mean(), drift.max(), drift.mean(), step, step / border_steps(picture, hard).mean()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="official model folder (default: the tiny random demo model)")
    parser.add_argument("--image", type=Path, help="picture to edit (default: a synthetic one)")
    parser.add_argument("--size", type=int, default=256, help="square size the picture is resized to")
    parser.add_argument("--preset", default="V4_TURBO_12")
    parser.add_argument("--margin", type=int, default=16)
    parser.add_argument("--feathers", default="0,4,8,16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    size = (args.size, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model or write_demo_model(Path(tmp) / "demo")
        dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
        pipeline = Ideogram4Pipeline(ModelPaths.from_folder(folder), device=torch.device(args.device), dtype=dtype)
        image = synthetic_picture(args.size) if args.image is None else load_picture(args.image).rgb[None]
        image = torch.round(resize_image(image, size) * 255) / 255  # 8-bit, as a saved picture is
        hard = box_mask(element_boxes(CAPTION, [1]), size, args.margin)
        picture = image[0].numpy() * 255
        runs = [("no composite", 0, False)] + [(f"feather {f}", f, True) for f in map(int, args.feathers.split(","))]
        print(f"{args.size}×{args.size}, margin {args.margin}, {args.preset}, model: {args.model or 'demo (random)'}")
        print(f"{'run':<14}" + "".join(f"{column:>13}" for column in COLUMNS))
        for name, radius, composite in runs:
            mask = feather(hard, radius)
            edit = Edit(image, mask, 1.0, composite=composite)
            out = pipeline.generate(
                CAPTION, width=args.size, height=args.size, seed=0, settings=preset(args.preset), edit=edit
            )
            result = np.asarray(out.images[0], dtype=np.float32)
            values = measure(result, picture, mask[0].numpy(), hard[0].numpy())
            cells = (form.format(v) for form, v in zip(COLUMNS.values(), values, strict=True))
            print(f"{name:<14}" + "".join(f"{cell:>13}" for cell in cells))


if __name__ == "__main__":
    main()
