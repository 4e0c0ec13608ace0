"""The ``generate`` options for editing a picture (img2img, inpainting, outpainting, element re-rendering).

Without ``--width/--height`` the size is the picture's (after ``--outpaint``); a size that is not a multiple of
16 stops with the nearest valid size unless ``--resize`` is given. Without a mask, ``--init-image`` is img2img.
The mask is the union of ``--mask`` (white repaints; any size; a PNG's alpha counts), ``--edit-elements``
boxes widened by ``--edit-margin`` and the ``--outpaint`` area; a picture with transparency is inpainted
where it is transparent.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..caption.elements import element_boxes, parse_element_numbers
from ..editing import Edit, nearest_valid_size, resize_image
from ..errors import Ideogram4Error
from ..image_files import load_mask, load_picture
from ..sampling.masks import as_batch, box_mask, feather, fit, grow, outpaint_canvas
from ..sampling.sizes import PIXELS_PER_TOKEN

IMG2IMG_DENOISE = 0.6  # default strength without a mask; with a mask the default repaints fully (1.0)


def add_edit_options(parser: argparse.ArgumentParser) -> None:
    edit = parser.add_argument_group("editing a picture")
    edit.add_argument("--init-image", type=Path, help="start from this picture (img2img; with a mask, inpainting)")
    edit.add_argument("--denoise", type=float, help=f"how much to change, (0, 1] (default {IMG2IMG_DENOISE}, 1 masked)")
    edit.add_argument("--mask", type=Path, help="mask picture: white repaints, black keeps (any size; alpha counts)")
    edit.add_argument("--edit-elements", help="re-render these caption elements in their boxes, e.g. 2,5 (1-based)")
    edit.add_argument("--edit-margin", type=int, default=16, help="pixels added around each element box (16)")
    edit.add_argument("--outpaint", help="enlarge the canvas by LEFT,TOP,RIGHT,BOTTOM pixels and paint the new area")
    edit.add_argument("--mask-grow", type=int, default=0, help="grow (or, negative, shrink) the mask by pixels")
    edit.add_argument("--mask-feather", type=int, default=0, help="soften the mask's edge over this many pixels")
    edit.add_argument("--differential", action="store_true", help="a soft mask's value sets when each area may change")
    edit.add_argument("--no-composite", action="store_true", help="keep the decoded image outside the mask too")
    edit.add_argument("--resize", action="store_true", help="resize a picture whose sides are not multiples of 16")


def _outpaint_sides(text: str) -> tuple[int, int, int, int]:
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise Ideogram4Error(f"--outpaint {text!r} must be four pixel counts LEFT,TOP,RIGHT,BOTTOM, e.g. 0,0,256,0.")
    left, top, right, bottom = (int(p) for p in parts)
    return left, top, right, bottom


def _check_outpaint_size(size: tuple[int, int], sides: tuple[int, int, int, int]) -> None:
    width, height = size[0] + sides[0] + sides[2], size[1] + sides[1] + sides[3]
    if width % PIXELS_PER_TOKEN or height % PIXELS_PER_TOKEN:
        w, h = nearest_valid_size(width, height)
        right, bottom = sides[2] + w - width, sides[3] + h - height
        raise Ideogram4Error(
            f"The outpainted canvas would be {width}×{height}, but sides must be multiples of 16; use "
            f"--outpaint {sides[0]},{sides[1]},{max(right, 0)},{max(bottom, 0)} (or add --width/--height "
            "to resize the picture first)."
        )


def _target_size(args: argparse.Namespace, size: tuple[int, int]) -> tuple[int, int]:
    """The picture's size before outpainting: --width/--height when given, else its own (checked)."""
    if args.width is not None or args.height is not None:
        if args.outpaint is None:
            return args.width or size[0], args.height or size[1]
        raise Ideogram4Error("--outpaint sets the size from the picture; leave out --width/--height.")
    valid = nearest_valid_size(*size)
    if valid != size and not args.resize:
        raise Ideogram4Error(
            f"The picture is {size[0]}×{size[1]}, but sides must be multiples of 16; pass --resize to resize it "
            f"to {valid[0]}×{valid[1]}, or give --width/--height."
        )
    return valid


def edit_from_args(args: argparse.Namespace, caption: str) -> Edit | None:
    """The edit the options describe (None without --init-image); sets args.width/height to the output size."""
    if args.init_image is None:
        given = {"--mask": args.mask, "--edit-elements": args.edit_elements, "--outpaint": args.outpaint,
                 "--denoise": args.denoise}  # fmt: skip
        extra = [flag for flag, value in given.items() if value is not None]
        if extra:
            raise Ideogram4Error(f"{', '.join(extra)} needs --init-image: the picture to edit.")
        if args.width is None or args.height is None:
            raise Ideogram4Error("Give --width and --height (or --init-image to take the size from a picture).")
        return None
    picture = load_picture(args.init_image)
    size = _target_size(args, picture.size)
    image = resize_image(picture.rgb[None], size)
    masks = []
    if picture.alpha is not None and picture.alpha.min() < 1.0:
        masks.append(fit(as_batch(1.0 - picture.alpha), size))
    if args.mask is not None:
        masks.append(fit(as_batch(load_mask(args.mask)), size))
    if args.edit_elements is not None:
        boxes = element_boxes(caption, parse_element_numbers(args.edit_elements))
        masks.append(box_mask(boxes, size, args.edit_margin))
    if args.outpaint is not None:
        sides = _outpaint_sides(args.outpaint)
        _check_outpaint_size(size, sides)
        image, new_area = outpaint_canvas(image, *sides)
        masks = [torch.nn.functional.pad(m, (sides[0], sides[2], sides[1], sides[3])) for m in masks] + [new_area]
    mask = None
    if masks:
        mask = feather(grow(torch.stack(masks).amax(0), args.mask_grow), args.mask_feather)
    args.width, args.height = image.shape[2], image.shape[1]
    denoise = args.denoise if args.denoise is not None else (1.0 if mask is not None else IMG2IMG_DENOISE)
    return Edit(image, mask, denoise, differential=args.differential, composite=not args.no_composite)
