// The interactive canvas: draw, select (shift = multi), move, resize by 8 handles, snap, keyboard.

import * as cmd from "./commands.mjs";
import { COORD_MAX } from "./constants.mjs";
import { h } from "./dom.mjs";
import {
  bounds,
  clampCoord,
  clampDelta,
  handleEdges,
  hitTest,
  normalise,
  rectFromPoints,
  toBbox,
  toRect,
  translate,
} from "./geometry.mjs";
import { drawScene } from "./renderer.mjs";
import { snapEdges, snapMove, snapTargets } from "./snapping.mjs";

const HANDLE_PX = 7;
const SNAP_PX = 6;
const MIN_DRAW_PX = 5;
const CURSORS = {
  nw: "nwse-resize",
  se: "nwse-resize",
  ne: "nesw-resize",
  sw: "nesw-resize",
  n: "ns-resize",
  s: "ns-resize",
  e: "ew-resize",
  w: "ew-resize",
  move: "move",
};

export class CanvasView {
  constructor(ctx) {
    this.ctx = ctx;
    this.canvas = h("canvas.ig4-canvas", { tabIndex: 0 });
    this.el = h("div.ig4-stage", {}, this.canvas);
    this.drag = null;
    this.guides = [];
    this.draft = null;
    this.hoverId = null;
    this.frame = 0;
    this.size = { w: 0, h: 0 };
    this.canvas.addEventListener("pointerdown", (e) => this.#down(e));
    this.canvas.addEventListener("pointermove", (e) => this.#move(e));
    this.canvas.addEventListener("pointerup", (e) => this.#up(e));
    this.canvas.addEventListener("pointercancel", () => this.#abort());
    this.canvas.addEventListener("pointerleave", () => this.#hover(null));
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(this.el);
    for (const event of ["state", "selection", "prefs", "underlay", "report"]) ctx.hub.on(event, () => this.render());
    ctx.hub.on("aspect", () => this.fit());
  }

  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }

  /** Size the canvas to the largest width:height rectangle that fits the stage. */
  fit() {
    const availW = this.el.clientWidth - 16;
    const availH = this.el.clientHeight - 16;
    if (availW <= 0 || availH <= 0) return;
    const aspect = this.ctx.aspect;
    const w = Math.floor(Math.min(availW, availH * aspect));
    const hgt = Math.floor(w / aspect);
    if (w === this.size.w && hgt === this.size.h) return;
    this.size = { w, h: hgt };
    const dpr = window.devicePixelRatio || 1;
    Object.assign(this.canvas.style, { width: `${w}px`, height: `${hgt}px` });
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.render();
  }

  /** Schedule a redraw on the next animation frame (coalesces bursts of changes). */
  render() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.#paint();
    });
  }

  #paint() {
    const { w, h: hgt } = this.size;
    if (!w) return;
    const g = this.canvas.getContext("2d");
    const dpr = this.canvas.width / w;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const { ctx } = this;
    // Active snap guides, also exposed as an attribute (inspection, tests): "x:500 y:120".
    this.canvas.dataset.guides = this.guides.map((guide) => `${guide.axis}:${guide.v}`).join(" ");
    drawScene(g, {
      w,
      h: hgt,
      state: ctx.store.state,
      selectedIds: ctx.selection.ids,
      hoverId: this.hoverId,
      guides: this.guides,
      draft: this.draft,
      underlay: ctx.underlay,
      opacity: ctx.prefs.opacity,
      grid: ctx.prefs.grid,
      showLabels: ctx.prefs.showLabels,
      errorIds: ctx.errorIds,
    });
  }

  /** Pointer position in caption units (works under CSS zoom/transforms). */
  #units(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * COORD_MAX, y: ((e.clientY - r.top) / r.height) * COORD_MAX };
  }

  /** `px` screen pixels in units along each axis. */
  #tol(px) {
    const r = this.canvas.getBoundingClientRect();
    return { x: (px / r.width) * COORD_MAX, y: (px / r.height) * COORD_MAX };
  }

  #snapOpts(e) {
    return e.altKey ? { objects: false, grid: 0 } : { objects: this.ctx.prefs.snapObjects, grid: this.ctx.prefs.grid };
  }

  #hover(id) {
    if (this.hoverId === id) return;
    this.hoverId = id;
    this.render();
  }

  #down(e) {
    if (e.button !== 0) return;
    e.stopPropagation();
    e.preventDefault();
    this.canvas.focus({ preventScroll: true });
    this.canvas.setPointerCapture(e.pointerId);
    const { ctx } = this;
    const p = this.#units(e);
    const elements = ctx.store.state.elements;
    const hit = hitTest(elements, ctx.selection.ids, p, this.#tol(HANDLE_PX));
    if (e.shiftKey) {
      if (hit) ctx.selection.toggle(hit.id);
      if (!hit || !ctx.selection.has(hit.id)) return;
    } else if (!hit) {
      ctx.selection.set([]);
      this.drag = { mode: "draw", start: p, startPx: { x: e.clientX, y: e.clientY } };
      return;
    } else if (hit.handle !== "move") {
      const el = elements.find((x) => x.id === hit.id);
      this.drag = { mode: "resize", id: hit.id, handle: hit.handle, start: toRect(el.bbox) };
      return;
    } else if (!ctx.selection.has(hit.id)) ctx.selection.set([hit.id]);
    const ids = ctx.selection.ids.filter((id) => elements.find((x) => x.id === id)?.bbox);
    const rects = new Map(ids.map((id) => [id, toRect(elements.find((x) => x.id === id).bbox)]));
    this.drag = { mode: "move", start: p, rects, group: bounds([...rects.values()]), moved: false };
  }

  #move(e) {
    const drag = this.drag;
    const p = this.#units(e);
    if (!drag) {
      const hit = hitTest(this.ctx.store.state.elements, this.ctx.selection.ids, p, this.#tol(HANDLE_PX));
      this.canvas.style.cursor = hit ? CURSORS[hit.handle] : "crosshair";
      this.#hover(hit?.id ?? null);
      return;
    }
    e.stopPropagation();
    if (drag.mode === "move") this.#dragMove(drag, p, e);
    else if (drag.mode === "resize") this.#dragResize(drag, p, e);
    else this.#dragDraw(drag, p, e);
  }

  #targets(excludeIds) {
    return snapTargets(this.ctx.store.state.elements, excludeIds);
  }

  #dragMove(drag, p, e) {
    const ids = [...drag.rects.keys()];
    const raw = clampDelta(drag.group, p.x - drag.start.x, p.y - drag.start.y);
    const snapped = snapMove(
      translate(drag.group, raw.dx, raw.dy),
      this.#targets(ids),
      this.#snapOpts(e),
      this.#tol(SNAP_PX),
    );
    const d = clampDelta(
      drag.group,
      Math.round(snapped.rect.x0 - drag.group.x0),
      Math.round(snapped.rect.y0 - drag.group.y0),
    );
    this.guides = snapped.guides;
    drag.moved = true;
    this.ctx.store.update(
      (s) => {
        for (const el of s.elements) {
          const r = drag.rects.get(el.id);
          if (r) el.bbox = toBbox(translate(r, d.dx, d.dy));
        }
      },
      { transient: true },
    );
  }

  #dragResize(drag, p, e) {
    const edges = handleEdges(drag.handle);
    const raw = { ...drag.start };
    if (edges.x) raw[edges.x] = clampCoord(p.x);
    if (edges.y) raw[edges.y] = clampCoord(p.y);
    const snapped = snapEdges(raw, edges, this.#targets([drag.id]), this.#snapOpts(e), this.#tol(SNAP_PX));
    this.guides = snapped.guides;
    drag.moved = true;
    this.ctx.store.update(
      (s) => {
        const el = s.elements.find((x) => x.id === drag.id);
        el.bbox = toBbox(normalise(snapped.rect));
      },
      { transient: true },
    );
  }

  #dragDraw(drag, p, e) {
    if (Math.hypot(e.clientX - drag.startPx.x, e.clientY - drag.startPx.y) < MIN_DRAW_PX && !this.draft) return;
    const targets = this.#targets([]);
    const opts = this.#snapOpts(e);
    const tol = this.#tol(SNAP_PX);
    const start = snapEdges({ x0: drag.start.x, y0: drag.start.y }, { x: "x0", y: "y0" }, targets, opts, tol);
    const end = snapEdges({ x1: p.x, y1: p.y }, { x: "x1", y: "y1" }, targets, opts, tol);
    this.guides = [...start.guides, ...end.guides];
    const a = { x: start.rect.x0, y: start.rect.y0 };
    const b = { x: end.rect.x1, y: end.rect.y1 };
    this.draft = rectFromPoints(a, b);
    this.render();
  }

  #up(e) {
    const drag = this.drag;
    if (!drag) return;
    e.stopPropagation();
    this.drag = null;
    this.guides = [];
    if (drag.mode === "draw") {
      const draft = this.draft;
      this.draft = null;
      if (draft && draft.x1 - draft.x0 >= 1 && draft.y1 - draft.y0 >= 1) cmd.addElement(this.ctx, toBbox(draft));
    } else if (drag.moved) this.ctx.store.commit();
    this.render();
  }

  #abort() {
    if (!this.drag) return;
    this.drag = null;
    this.draft = null;
    this.guides = [];
    this.ctx.store.cancel();
    this.render();
  }

  /** Keyboard handling while the canvas has focus; returns true when the key was used. */
  handleKey(e) {
    const { ctx } = this;
    const mod = e.ctrlKey || e.metaKey;
    const step = e.shiftKey ? 10 : 1;
    const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (arrows[e.key]) cmd.nudge(ctx, ...arrows[e.key]);
    else if (e.key === "Delete" || e.key === "Backspace") cmd.deleteSelected(ctx);
    else if (e.key === "Escape") {
      if (this.drag) this.#abort();
      else ctx.selection.set([]);
    } else if (mod && e.key.toLowerCase() === "a")
      ctx.selection.set(ctx.store.state.elements.filter((x) => x.bbox).map((x) => x.id));
    else if (mod && e.key.toLowerCase() === "d") cmd.duplicateSelected(ctx);
    else if (e.key === "]") cmd.restack(ctx, 1);
    else if (e.key === "[") cmd.restack(ctx, -1);
    else return false;
    return true;
  }
}
