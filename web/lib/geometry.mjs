// Box geometry in caption units: bbox = [y_min, x_min, y_max, x_max], 0..1000, origin top-left.
// Rects {x0, y0, x1, y1} are the same numbers in x/y order, convenient for maths.

import { COORD_MAX } from "./constants.mjs";

export const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

export const toRect = ([y0, x0, y1, x1]) => ({ x0, y0, x1, y1 });
export const toBbox = (r) => [r.y0, r.x0, r.y1, r.x1].map((v) => Math.round(v));

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

/** A coordinate clamped to the canvas, 0..1000. */
export const clampCoord = (v) => clamp(v, 0, COORD_MAX);

/** Rect spanned by two points, clamped to the canvas. */
export function rectFromPoints(a, b) {
  return {
    x0: clampCoord(Math.min(a.x, b.x)),
    y0: clampCoord(Math.min(a.y, b.y)),
    x1: clampCoord(Math.max(a.x, b.x)),
    y1: clampCoord(Math.max(a.y, b.y)),
  };
}

/** Position of a handle on a rect. */
export function handlePoint(r, handle) {
  const x = handle.includes("w") ? r.x0 : handle.includes("e") ? r.x1 : (r.x0 + r.x1) / 2;
  const y = handle.includes("n") ? r.y0 : handle.includes("s") ? r.y1 : (r.y0 + r.y1) / 2;
  return { x, y };
}

/** Which edges a handle moves: {x: "x0"|"x1"|null, y: "y0"|"y1"|null}. */
export function handleEdges(handle) {
  return {
    x: handle.includes("w") ? "x0" : handle.includes("e") ? "x1" : null,
    y: handle.includes("n") ? "y0" : handle.includes("s") ? "y1" : null,
  };
}

export function normalise(r) {
  return { x0: Math.min(r.x0, r.x1), y0: Math.min(r.y0, r.y1), x1: Math.max(r.x0, r.x1), y1: Math.max(r.y0, r.y1) };
}

export const translate = (r, dx, dy) => ({ x0: r.x0 + dx, y0: r.y0 + dy, x1: r.x1 + dx, y1: r.y1 + dy });

/** Union of rects. */
export function bounds(rects) {
  return {
    x0: Math.min(...rects.map((r) => r.x0)),
    y0: Math.min(...rects.map((r) => r.y0)),
    x1: Math.max(...rects.map((r) => r.x1)),
    y1: Math.max(...rects.map((r) => r.y1)),
  };
}

/** Clamp a translation so that the rect stays inside the canvas. */
export function clampDelta(r, dx, dy) {
  return { dx: clamp(dx, -r.x0, COORD_MAX - r.x1), dy: clamp(dy, -r.y0, COORD_MAX - r.y1) };
}

export const contains = (r, p, pad = 0) =>
  p.x >= r.x0 - pad && p.x <= r.x1 + pad && p.y >= r.y0 - pad && p.y <= r.y1 + pad;

/**
 * What is under point p: {id, handle} for a handle of a selected box, {id, handle: "move"} for a box
 * body (front-most first), or null. `tol` is the handle hit radius per axis, in units.
 */
export function hitTest(elements, selectedIds, p, tol) {
  for (let i = elements.length - 1; i >= 0; i--) {
    const el = elements[i];
    if (!el.bbox || !selectedIds.includes(el.id) || selectedIds.length !== 1) continue;
    const r = toRect(el.bbox);
    const handle = HANDLES.find((h) => {
      const hp = handlePoint(r, h);
      return Math.abs(hp.x - p.x) <= tol.x && Math.abs(hp.y - p.y) <= tol.y;
    });
    if (handle) return { id: el.id, handle };
  }
  for (let i = elements.length - 1; i >= 0; i--) {
    const el = elements[i];
    if (el.bbox && contains(toRect(el.bbox), p)) return { id: el.id, handle: "move" };
  }
  return null;
}

export const intersects = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Resize result `r` (moving the edges of `handle`) corrected to keep the width:height of `start`: a corner
 * follows the larger of the two changes, an edge handle resizes the other axis about its centre.
 */
export function keepAspect(r, start, handle) {
  const ratio = (start.x1 - start.x0) / Math.max(1e-6, start.y1 - start.y0);
  const edges = handleEdges(handle);
  const out = { ...r };
  let w = r.x1 - r.x0;
  let hgt = r.y1 - r.y0;
  if (edges.x && edges.y) {
    if (Math.abs(w) / ratio > Math.abs(hgt)) hgt = (Math.sign(hgt) || 1) * (Math.abs(w) / ratio);
    else w = (Math.sign(w) || 1) * Math.abs(hgt) * ratio;
  } else if (edges.x) hgt = Math.abs(w) / ratio;
  else w = Math.abs(hgt) * ratio;
  if (edges.x === "x1") out.x1 = r.x0 + w;
  else if (edges.x === "x0") out.x0 = r.x1 - w;
  else [out.x0, out.x1] = [(start.x0 + start.x1 - w) / 2, (start.x0 + start.x1 + w) / 2];
  if (edges.y === "y1") out.y1 = r.y0 + hgt;
  else if (edges.y === "y0") out.y0 = r.y1 - hgt;
  else [out.y0, out.y1] = [(start.y0 + start.y1 - hgt) / 2, (start.y0 + start.y1 + hgt) / 2];
  return { x0: clampCoord(out.x0), y0: clampCoord(out.y0), x1: clampCoord(out.x1), y1: clampCoord(out.y1) };
}

/**
 * Constrain a drag from `a` to `b` (units) to a square on screen (`aspect` = width / height of the image) when
 * `square`; otherwise return `b`.
 */
export function squarePoint(a, b, aspect, square) {
  if (!square) return b;
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const side = Math.max(Math.abs(dx) * aspect, Math.abs(dy));
  return { x: a.x + (Math.sign(dx) || 1) * (side / aspect), y: a.y + (Math.sign(dy) || 1) * side };
}
