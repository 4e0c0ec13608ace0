"""An edit described by files and numbers (`generate`'s editing options, a batch job's fields) → an `Edit`.

Without a target size the size is the picture's (after outpainting); a picture whose sides are not multiples
of 16 stops with the nearest valid size unless `resize` is set. Without a mask the edit is img2img. The mask is
the union of the mask file (white repaints; any size; a PNG's alpha counts), the numbered elements' boxes
widened by `edit_margin` and the outpainted area; a picture with transparency is inpainted where it is
transparent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .caption.elements import element_boxes
from .editing import Edit, nearest_valid_size, resize_image
from .errors import Ideogram4Error
from .image_files import load_mask, load_picture
from .sampling.masks import as_batch, box_mask, feather, fit, grow, outpaint_canvas
from .sampling.sizes import PIXELS_PER_TOKEN

IMG2IMG_DENOISE = 0.6  # default strength without a mask; with a mask the default repaints fully (1.0)
EDIT_MARGIN = 16  # pixels added around each element box by default


@dataclass(frozen=True)
class EditRequest:
    """A picture to edit and how; nothing is read until `build`. `outpaint` is (left, top, right, bottom)."""

    init_image: Path
    mask: Path | None = None
    edit_elements: tuple[int, ...] = ()
    edit_margin: int = EDIT_MARGIN
    outpaint: tuple[int, int, int, int] | None = None
    denoise: float | None = None
    mask_grow: int = 0
    mask_feather: int = 0
    differential: bool = False
    composite: bool = True
    resize: bool = False

    def build(self, caption: str, width: int | None = None, height: int | None = None) -> Edit:
        """Read the picture and masks: the `Edit` at `width`×`height` (default the picture's size)."""
        picture = load_picture(self.init_image)
        size = self._target_size(picture.size, width, height)
        image = resize_image(picture.rgb[None], size)
        masks = []
        if picture.alpha is not None and picture.alpha.min() < 1.0:
            masks.append(fit(as_batch(1.0 - picture.alpha), size))
        if self.mask is not None:
            masks.append(fit(as_batch(load_mask(self.mask)), size))
        if self.edit_elements:
            masks.append(box_mask(element_boxes(caption, list(self.edit_elements)), size, self.edit_margin))
        if self.outpaint is not None:
            sides = self.outpaint
            _check_outpaint_size(size, sides)
            image, new_area = outpaint_canvas(image, *sides)
            masks = [torch.nn.functional.pad(m, (sides[0], sides[2], sides[1], sides[3])) for m in masks] + [new_area]
        mask = None
        if masks:
            mask = feather(grow(torch.stack(masks).amax(0), self.mask_grow), self.mask_feather)
        denoise = self.denoise if self.denoise is not None else (1.0 if mask is not None else IMG2IMG_DENOISE)
        return Edit(image, mask, denoise, differential=self.differential, composite=self.composite)

    def _target_size(self, size: tuple[int, int], width: int | None, height: int | None) -> tuple[int, int]:
        """The picture's size before outpainting: the width/height given, else its own (checked)."""
        if width is not None or height is not None:
            if self.outpaint is None:
                return width or size[0], height or size[1]
            raise Ideogram4Error("--outpaint sets the size from the picture; leave out --width/--height.")
        valid = nearest_valid_size(*size)
        if valid != size and not self.resize:
            raise Ideogram4Error(
                f"The picture is {size[0]}×{size[1]}, but sides must be multiples of 16; pass --resize to resize "
                f"it to {valid[0]}×{valid[1]}, or give --width/--height."
            )
        return valid


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
