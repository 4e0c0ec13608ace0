// Align, distribute and equal spacing of rects (caption units). Pure functions: rects in, rects out (same
// order). One rect aligns to the canvas; several align to their common bounds.

import { COORD_MAX } from "./constants.mjs";
import { bounds } from "./geometry.mjs";

const CANVAS = { x0: 0, y0: 0, x1: COORD_MAX, y1: COORD_MAX };
const AXES = { x: ["x0", "x1"], y: ["y0", "y1"] };

/** Align to an edge or centre: how = left | hcenter | right | top | vmiddle | bottom. */
export function alignRects(rects, how) {
  const frame = rects.length === 1 ? CANVAS : bounds(rects);
  const axis = ["left", "hcenter", "right"].includes(how) ? "x" : "y";
  const [lo, hi] = AXES[axis];
  return rects.map((r) => {
    const size = r[hi] - r[lo];
    let start = frame[lo];
    if (how === "right" || how === "bottom") start = frame[hi] - size;
    else if (how === "hcenter" || how === "vmiddle") start = (frame[lo] + frame[hi] - size) / 2;
    return { ...r, [lo]: Math.round(start), [hi]: Math.round(start) + size };
  });
}

/** Move rect i so that its `lo` edge is at `start`, keeping its size. */
const placed = (r, lo, hi, start) => ({ ...r, [lo]: Math.round(start), [hi]: Math.round(start) + (r[hi] - r[lo]) });

/** Distribute centres evenly between the first and the last rect along `axis` (x | y); needs 3 or more. */
export function distributeRects(rects, axis) {
  const [lo, hi] = AXES[axis];
  if (rects.length < 3) return rects;
  const centre = (r) => (r[lo] + r[hi]) / 2;
  const order = rects.map((r, i) => i).sort((a, b) => centre(rects[a]) - centre(rects[b]));
  const first = centre(rects[order[0]]);
  const step = (centre(rects[order.at(-1)]) - first) / (order.length - 1);
  const out = [...rects];
  order.forEach((i, k) => {
    const r = rects[i];
    out[i] = placed(r, lo, hi, first + k * step - (r[hi] - r[lo]) / 2);
  });
  return out;
}

/** Equal gaps between neighbours along `axis`, keeping the outermost edges; needs 3 or more. */
export function spaceRects(rects, axis) {
  const [lo, hi] = AXES[axis];
  if (rects.length < 3) return rects;
  const order = rects.map((r, i) => i).sort((a, b) => rects[a][lo] - rects[b][lo]);
  const span = Math.max(...rects.map((r) => r[hi])) - rects[order[0]][lo];
  const total = rects.reduce((sum, r) => sum + (r[hi] - r[lo]), 0);
  const gap = (span - total) / (rects.length - 1);
  const out = [...rects];
  let at = rects[order[0]][lo];
  for (const i of order) {
    out[i] = placed(rects[i], lo, hi, at);
    at += rects[i][hi] - rects[i][lo] + gap;
  }
  return out;
}
