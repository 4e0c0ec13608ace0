// Aspect-safe remap. When the image's width:height changes, "keep" fits the old canvas, centred, inside the
// new one, so every box (and the underlay) keeps its shape and the layout its proportions; "stretch" keeps
// the numbers, so boxes stretch with the image.

import { COORD_MAX } from "./constants.mjs";

/** Where the old canvas (aspect `from` = width / height) lies in the new one (`to`), in new units. */
export function containFrame(from, to) {
  if (to >= from) {
    const w = (COORD_MAX * from) / to;
    return { x0: (COORD_MAX - w) / 2, y0: 0, x1: (COORD_MAX + w) / 2, y1: COORD_MAX };
  }
  const hgt = (COORD_MAX * to) / from;
  return { x0: 0, y0: (COORD_MAX - hgt) / 2, x1: COORD_MAX, y1: (COORD_MAX + hgt) / 2 };
}

/** A bbox of the old canvas mapped into `frame`; at least one unit wide and tall. */
export function mapBbox([y0, x0, y1, x1], frame) {
  const mx = (v) => Math.round(frame.x0 + (v / COORD_MAX) * (frame.x1 - frame.x0));
  const my = (v) => Math.round(frame.y0 + (v / COORD_MAX) * (frame.y1 - frame.y0));
  const [a, b, c, d] = [my(y0), mx(x0), my(y1), mx(x1)];
  return [a, b, Math.max(c, a + 1), Math.max(d, b + 1)];
}
