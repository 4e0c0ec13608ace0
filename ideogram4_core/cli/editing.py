"""The ``generate`` options for editing a picture (img2img, inpainting, outpainting, element re-rendering).

They become an `edit_request.EditRequest` (what batch jobs build too); see there for sizes and masks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..caption.elements import parse_element_numbers
from ..edit_request import EDIT_MARGIN, IMG2IMG_DENOISE, EditRequest
from ..editing import Edit
from ..errors import Ideogram4Error


def add_edit_options(parser: argparse.ArgumentParser) -> None:
    edit = parser.add_argument_group("editing a picture")
    edit.add_argument("--init-image", type=Path, help="start from this picture (img2img; with a mask, inpainting)")
    edit.add_argument("--denoise", type=float, help=f"how much to change, (0, 1] (default {IMG2IMG_DENOISE}, 1 masked)")
    edit.add_argument("--mask", type=Path, help="mask picture: white repaints, black keeps (any size; alpha counts)")
    edit.add_argument("--edit-elements", help="re-render these caption elements in their boxes, e.g. 2,5 (1-based)")
    edit.add_argument("--edit-margin", type=int, default=EDIT_MARGIN,
                      help=f"pixels added around each element box ({EDIT_MARGIN})")  # fmt: skip
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
    request = EditRequest(
        args.init_image,
        mask=args.mask,
        edit_elements=tuple(parse_element_numbers(args.edit_elements)) if args.edit_elements is not None else (),
        edit_margin=args.edit_margin,
        outpaint=_outpaint_sides(args.outpaint) if args.outpaint is not None else None,
        denoise=args.denoise,
        mask_grow=args.mask_grow,
        mask_feather=args.mask_feather,
        differential=args.differential,
        composite=not args.no_composite,
        resize=args.resize,
    )
    edit = request.build(caption, args.width, args.height)
    args.width, args.height = edit.size
    return edit
