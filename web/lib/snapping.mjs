// Snapping of moving/resizing boxes to the canvas centre and edges, to other boxes' edges and centres,
// and (when nothing closer is found) to a grid. Returns the adjusted rect plus guide lines to draw.

import { COORD_MAX } from "./constants.mjs";
import { toRect, translate } from "./geometry.mjs";

/** Snap lines per axis: canvas edges and centre, plus every other box's edges and centre. */
export function snapTargets(elements, excludeIds) {
  const half = COORD_MAX / 2;
  const targets = { x: [0, half, COORD_MAX], y: [0, half, COORD_MAX] };
  for (const el of elements) {
    if (!el.bbox || excludeIds.includes(el.id)) continue;
    const r = toRect(el.bbox);
    targets.x.push(r.x0, (r.x0 + r.x1) / 2, r.x1);
    targets.y.push(r.y0, (r.y0 + r.y1) / 2, r.y1);
  }
  return targets;
}

/** Best (smallest) offset that brings one of `values` onto one of `lines` within `tol`, or null. */
function nearest(values, lines, tol) {
  let best = null;
  for (const v of values) {
    for (const line of lines) {
      const d = line - v;
      if (Math.abs(d) <= tol && (!best || Math.abs(d) < Math.abs(best.d))) best = { d, line };
    }
  }
  return best;
}

const gridOffset = (v, grid) => Math.round(v / grid) * grid - v;

/**
 * Snap one axis. `values` are the coordinates that move (edges/centre), `anchor` the one rounded to the
 * grid when no line is near. Returns {d, guide}.
 */
function snapAxis(values, anchor, lines, opts, tol) {
  const hit = opts.objects ? nearest(values, lines, tol) : null;
  if (hit) return { d: hit.d, guide: hit.line };
  return { d: opts.grid ? gridOffset(anchor, opts.grid) : 0, guide: null };
}

function guidesOf(sx, sy) {
  const guides = [];
  if (sx.guide != null) guides.push({ axis: "x", v: sx.guide });
  if (sy.guide != null) guides.push({ axis: "y", v: sy.guide });
  return guides;
}

/**
 * Snap a moving rect. opts: {objects: bool, grid: number|0}; tol: {x, y} in units.
 * Returns {rect, guides}.
 */
export function snapMove(rect, targets, opts, tol) {
  const sx = snapAxis([rect.x0, (rect.x0 + rect.x1) / 2, rect.x1], rect.x0, targets.x, opts, tol.x);
  const sy = snapAxis([rect.y0, (rect.y0 + rect.y1) / 2, rect.y1], rect.y0, targets.y, opts, tol.y);
  return { rect: translate(rect, sx.d, sy.d), guides: guidesOf(sx, sy) };
}

/** Snap the moving edges of a rect (resize/draw). edges: {x: "x0"|"x1"|null, y: …}. */
export function snapEdges(rect, edges, targets, opts, tol) {
  const next = { ...rect };
  const none = { d: 0, guide: null };
  const sx = edges.x ? snapAxis([rect[edges.x]], rect[edges.x], targets.x, opts, tol.x) : none;
  const sy = edges.y ? snapAxis([rect[edges.y]], rect[edges.y], targets.y, opts, tol.y) : none;
  if (edges.x) next[edges.x] += sx.d;
  if (edges.y) next[edges.y] += sy.d;
  return { rect: next, guides: guidesOf(sx, sy) };
}
