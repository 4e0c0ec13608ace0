// Editing commands shared by the canvas, the toolbar, the layers list and the keyboard.

import { COORD_MAX } from "./constants.mjs";
import { clampDelta, toBbox, toRect } from "./geometry.mjs";
import { newElement, newId } from "./model.mjs";

const selectedIndexes = (ctx) => ctx.store.state.elements.flatMap((e, i) => (ctx.selection.has(e.id) ? [i] : []));

export function addElement(ctx, bbox, type = ctx.prefs.newType) {
  const el = newElement(type, bbox);
  ctx.store.update((s) => s.elements.push(el));
  ctx.selection.set([el.id]);
  return el;
}

export function deleteSelected(ctx) {
  if (!ctx.selection.ids.length) return;
  ctx.store.update((s) => {
    s.elements = s.elements.filter((e) => !ctx.selection.has(e.id));
  });
  ctx.selection.set([]);
}

export function duplicateSelected(ctx) {
  const copies = [];
  ctx.store.update((s) => {
    for (const i of selectedIndexes(ctx)) {
      const copy = { ...structuredClone(s.elements[i]), id: newId() };
      if (copy.bbox) {
        const { dx, dy } = clampDelta(toRect(copy.bbox), 20, 20);
        copy.bbox = [copy.bbox[0] + dy, copy.bbox[1] + dx, copy.bbox[2] + dy, copy.bbox[3] + dx];
      }
      copies.push(copy);
    }
    s.elements.push(...copies);
  });
  ctx.selection.set(copies.map((c) => c.id));
}

/** Move the selected boxes by (dx, dy) units, keeping them inside the canvas. */
export function nudge(ctx, dx, dy) {
  const boxes = movable(ctx);
  if (!boxes.length) return;
  const ids = new Set(boxes.map((e) => e.id));
  let d = { dx, dy };
  for (const e of boxes) d = clampDelta(toRect(e.bbox), d.dx, d.dy);
  ctx.store.update(
    (s) => {
      for (const e of s.elements) {
        if (!ids.has(e.id)) continue;
        e.bbox = [e.bbox[0] + d.dy, e.bbox[1] + d.dx, e.bbox[2] + d.dy, e.bbox[3] + d.dx];
      }
    },
    { key: "nudge" },
  );
}

/** Shift each selected element one step towards the front (+1) or back (-1). */
export function restack(ctx, direction) {
  const idx = selectedIndexes(ctx);
  if (!idx.length) return;
  ctx.store.update((s) => {
    const els = s.elements;
    const order = direction > 0 ? [...idx].reverse() : idx;
    for (const i of order) {
      const j = i + direction;
      if (j < 0 || j >= els.length || ctx.selection.has(els[j].id)) continue;
      [els[i], els[j]] = [els[j], els[i]];
    }
  });
}

/** Move element `from` to index `to` (z-order drag in the layers list). */
export function moveElement(ctx, from, to) {
  if (from === to) return;
  ctx.store.update((s) => {
    const [el] = s.elements.splice(from, 1);
    s.elements.splice(to, 0, el);
  });
}

/** Give a box-less element a centred default box, or remove an element's box. */
export function toggleBox(ctx, id) {
  const q = COORD_MAX / 4;
  ctx.store.update((s) => {
    const el = s.elements.find((e) => e.id === id);
    if (el) el.bbox = el.bbox ? null : [q, q, 3 * q, 3 * q];
  });
}

/** Patch the element with `id`; `key` coalesces typing into one undo step. */
export function patchElement(ctx, id, patch, key = null) {
  ctx.store.update(
    (s) => {
      const el = s.elements.find((e) => e.id === id);
      if (el) Object.assign(el, patch);
    },
    { key: key && `${key}:${id}` },
  );
}

/** The selected elements that the canvas tools may move: boxed, not locked, not hidden. */
export const movable = (ctx) =>
  ctx.store.state.elements.filter((e) => ctx.selection.has(e.id) && e.bbox && !e.locked && !e.hidden);

/** Replace the boxes of the movable selection by `arrange(rects)` (same order), as one undo step. */
export function arrangeSelected(ctx, arrange) {
  const els = movable(ctx);
  if (!els.length) return;
  const rects = arrange(els.map((e) => toRect(e.bbox)));
  const next = new Map(els.map((e, i) => [e.id, toBbox(rects[i])]));
  ctx.store.update((s) => {
    for (const e of s.elements) if (next.has(e.id)) e.bbox = next.get(e.id);
  });
}

/** Toggle `flag` (locked | hidden) on the selection: set it on all unless all have it already. */
export function toggleFlag(ctx, flag, ids = ctx.selection.ids) {
  const chosen = new Set(ids);
  const els = ctx.store.state.elements.filter((e) => chosen.has(e.id));
  if (!els.length) return;
  const value = !els.every((e) => e[flag]);
  ctx.store.update((s) => {
    for (const e of s.elements) if (chosen.has(e.id)) e[flag] = value;
  });
}

/** Select every visible, unlocked box. */
export function selectAll(ctx) {
  ctx.selection.set(ctx.store.state.elements.filter((e) => e.bbox && !e.locked && !e.hidden).map((e) => e.id));
}
