// The interactive canvas. Two tools: draw (a drag draws a box, also over other boxes; a drag on the
// selection moves it) and select (a drag moves the box under the pointer; on empty canvas it selects a
// region). Shift: add to the selection, square boxes, moves along one axis, resizes keeping the shape
// (always so with the aspect lock). Locked and hidden elements are not picked.

import * as cmd from "./commands.mjs";
import { COORD_MAX } from "./constants.mjs";
import { h } from "./dom.mjs";
import {
  bounds,
  clampCoord,
  clampDelta,
  handleEdges,
  hitTest,
  intersects,
  keepAspect,
  normalise,
  rectFromPoints,
  squarePoint,
  toBbox,
  toRect,
  translate,
} from "./geometry.mjs";
import { drawScene } from "./renderer.mjs";
import { snapEdges, snapMove, snapTargets } from "./snapping.mjs";

const HANDLE_PX = 7;
const SNAP_PX = 6;
const MIN_DRAW_PX = 5;
const MAX_BACKING_PX = 8192;
const MIN_ZOOM = 0.25;
const MAX_ZOOM = 16;
const WHEEL_ZOOM = 0.0015;
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
    this.canvas = h("canvas.ig4-canvas", {
      tabIndex: 0,
      role: "application",
      "aria-label": "Layout canvas: drag to draw or select boxes; arrows nudge; press ? for all shortcuts",
    });
    this.el = h("div.ig4-stage", {}, this.canvas);
    this.drag = null;
    this.guides = [];
    this.draft = null;
    this.marquee = null;
    this.hoverId = null;
    this.frame = 0;
    this.size = { w: 0, h: 0 }; // drawn size in CSS px (fitted size × zoom)
    this.fitted = { w: 0, h: 0 };
    this.zoom = 1; // 1 = fit the stage
    this.pan = { x: 0, y: 0 }; // CSS px offset of the canvas from the stage centre
    this.zoomable = false; // wheel zoom and space-drag pan (focus mode)
    this.spaceDown = false;
    this.el.addEventListener("wheel", (e) => this.#wheel(e), { passive: false });
    this.canvas.addEventListener("pointerdown", (e) => this.#down(e));
    this.canvas.addEventListener("pointermove", (e) => this.#move(e));
    this.canvas.addEventListener("pointerup", (e) => this.#up(e));
    this.canvas.addEventListener("pointercancel", () => this.#abort());
    this.canvas.addEventListener("pointerleave", () => this.#hover(null));
    this.canvas.addEventListener("pointerenter", () => this.render()); // graph zoom may have changed
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
    const fw = Math.floor(Math.min(availW, availH * aspect));
    this.fitted = { w: fw, h: Math.floor(fw / aspect) };
    this.#layout();
  }

  #layout() {
    const w = Math.round(this.fitted.w * this.zoom);
    const hgt = Math.round(this.fitted.h * this.zoom);
    this.size = { w, h: hgt };
    Object.assign(this.canvas.style, {
      width: `${w}px`,
      height: `${hgt}px`,
      transform: this.pan.x || this.pan.y ? `translate(${this.pan.x}px, ${this.pan.y}px)` : "",
    });
    this.canvas.dataset.zoom = String(Math.round(this.zoom * 1000) / 1000);
    this.render();
    this.ctx.hub.emit("view");
  }

  /** The visible, unlocked element under a pointer event, or null. */
  elementAt(e) {
    return hitTest(this.#pickable(), [], this.#units(e), { x: 0, y: 0 })?.id ?? null;
  }

  /**
   * Where `bbox` lies in the stage's own CSS pixels (for overlays positioned in the stage): {x, y, w, h},
   * correct under the graph's CSS zoom and the focus-mode zoom and pan.
   */
  stageRect(bbox) {
    const c = this.canvas.getBoundingClientRect();
    const st = this.el.getBoundingClientRect();
    const k = this.el.offsetWidth / (st.width || 1); // undo ancestor CSS zoom
    const r = toRect(bbox);
    const x = (c.left - st.left + (r.x0 / COORD_MAX) * c.width) * k + this.el.scrollLeft;
    const y = (c.top - st.top + (r.y0 / COORD_MAX) * c.height) * k + this.el.scrollTop;
    return { x, y, w: ((r.x1 - r.x0) / COORD_MAX) * c.width * k, h: ((r.y1 - r.y0) / COORD_MAX) * c.height * k };
  }

  /** Zoom to `zoom` (× the fitted size), keeping the point under (clientX, clientY) in place. */
  setZoom(zoom, clientX = null, clientY = null) {
    const next = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, zoom));
    if (clientX != null) {
      const r = this.el.getBoundingClientRect();
      const cx = clientX - (r.left + r.width / 2) - this.pan.x;
      const cy = clientY - (r.top + r.height / 2) - this.pan.y;
      this.pan.x -= cx * (next / this.zoom - 1);
      this.pan.y -= cy * (next / this.zoom - 1);
    }
    this.zoom = next;
    this.#layout();
  }

  /** Fit the whole image in the stage. */
  zoomToFit() {
    this.pan = { x: 0, y: 0 };
    this.setZoom(1);
  }

  /** One CSS pixel per image pixel. */
  zoomToActual() {
    this.pan = { x: 0, y: 0 };
    this.setZoom(this.ctx.size.width / Math.max(1, this.fitted.w));
  }

  #wheel(e) {
    if (!this.zoomable) return;
    e.preventDefault();
    e.stopPropagation();
    this.setZoom(this.zoom * Math.exp(-e.deltaY * WHEEL_ZOOM), e.clientX, e.clientY);
  }

  /**
   * Match the backing store to the pixels the canvas covers on screen: CSS size × devicePixelRatio × any
   * zoom of the ancestors (ComfyUI's graph zoom is a CSS transform), so it stays crisp at every zoom.
   */
  #sizeBackingStore() {
    const { w, h: hgt } = this.size;
    const shown = this.canvas.getBoundingClientRect().width || w;
    const scale = Math.min(MAX_BACKING_PX / w, ((window.devicePixelRatio || 1) * shown) / w);
    const bw = Math.round(w * scale);
    const bh = Math.round(hgt * scale);
    if (this.canvas.width !== bw || this.canvas.height !== bh) {
      this.canvas.width = bw;
      this.canvas.height = bh;
    }
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
    this.#sizeBackingStore();
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
      draft: this.draft ?? this.marquee,
      underlay: ctx.underlay,
      underlayFrame: ctx.underlayFrame,
      opacity: ctx.prefs.opacity,
      grid: ctx.prefs.grid,
      showLabels: ctx.prefs.showLabels,
      wireframe: ctx.prefs.wireframe,
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

  /** Elements the pointer can pick: visible and not locked. */
  #pickable() {
    return this.ctx.store.state.elements.filter((x) => !x.hidden && !x.locked);
  }

  #down(e) {
    if (e.button !== 0 && e.button !== 1) return;
    e.stopPropagation();
    e.preventDefault();
    this.canvas.focus({ preventScroll: true });
    this.canvas.setPointerCapture(e.pointerId);
    if (this.zoomable && (this.spaceDown || e.button === 1)) {
      this.drag = { mode: "pan", startPx: { x: e.clientX, y: e.clientY }, pan: { ...this.pan } };
      return;
    }
    if (e.button !== 0) return;
    const { ctx } = this;
    const p = this.#units(e);
    const elements = ctx.store.state.elements;
    const hit = hitTest(this.#pickable(), ctx.selection.ids, p, this.#tol(HANDLE_PX));
    const drawing = ctx.prefs.tool === "draw";
    const startPx = { x: e.clientX, y: e.clientY };
    if (hit && hit.handle !== "move") {
      const el = elements.find((x) => x.id === hit.id);
      this.drag = { mode: "resize", id: hit.id, handle: hit.handle, start: toRect(el.bbox) };
      return;
    }
    if (e.shiftKey && hit) {
      ctx.selection.toggle(hit.id);
      if (!ctx.selection.has(hit.id)) return;
    } else if (!hit || (drawing && !ctx.selection.has(hit.id))) {
      if (!drawing) {
        this.drag = { mode: "marquee", start: p, base: e.shiftKey ? ctx.selection.ids : [] };
        if (!e.shiftKey) ctx.selection.set([]);
      } else this.drag = { mode: "draw", start: p, startPx, clickId: hit?.id ?? null };
      return;
    } else if (!ctx.selection.has(hit.id)) ctx.selection.set([hit.id]);
    const ids = cmd.movable(ctx).map((x) => x.id);
    if (!ids.length) return;
    const rects = new Map(ids.map((id) => [id, toRect(elements.find((x) => x.id === id).bbox)]));
    this.drag = { mode: "move", start: p, rects, group: bounds([...rects.values()]), moved: false };
  }

  #move(e) {
    const drag = this.drag;
    const p = this.#units(e);
    if (!drag) {
      const hit = hitTest(this.#pickable(), this.ctx.selection.ids, p, this.#tol(HANDLE_PX));
      this.canvas.style.cursor = hit ? CURSORS[hit.handle] : "crosshair";
      this.#hover(hit?.id ?? null);
      return;
    }
    e.stopPropagation();
    if (drag.mode === "pan") {
      this.pan = { x: drag.pan.x + e.clientX - drag.startPx.x, y: drag.pan.y + e.clientY - drag.startPx.y };
      this.#layout();
    } else if (drag.mode === "move") this.#dragMove(drag, p, e);
    else if (drag.mode === "resize") this.#dragResize(drag, p, e);
    else if (drag.mode === "marquee") this.#dragMarquee(drag, p);
    else this.#dragDraw(drag, p, e);
  }

  #targets(excludeIds) {
    return snapTargets(this.ctx.store.state.elements, excludeIds);
  }

  #dragMove(drag, p, e) {
    const ids = [...drag.rects.keys()];
    let [dx, dy] = [p.x - drag.start.x, p.y - drag.start.y];
    if (e.shiftKey) [dx, dy] = Math.abs(dx * this.ctx.aspect) > Math.abs(dy) ? [dx, 0] : [0, dy];
    const raw = clampDelta(drag.group, dx, dy);
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
    const locked = e.shiftKey || this.ctx.prefs.aspectLock;
    const rect = locked ? keepAspect(snapped.rect, drag.start, drag.handle) : snapped.rect;
    this.guides = locked ? [] : snapped.guides;
    drag.moved = true;
    this.ctx.store.update(
      (s) => {
        const el = s.elements.find((x) => x.id === drag.id);
        el.bbox = toBbox(normalise(rect));
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
    this.guides = e.shiftKey ? start.guides : [...start.guides, ...end.guides];
    const a = { x: start.rect.x0, y: start.rect.y0 };
    const b = squarePoint(a, e.shiftKey ? p : { x: end.rect.x1, y: end.rect.y1 }, this.ctx.aspect, e.shiftKey);
    this.draft = rectFromPoints(a, b);
    this.render();
  }

  #dragMarquee(drag, p) {
    this.marquee = rectFromPoints(drag.start, p);
    const inside = this.#pickable().filter((x) => x.bbox && intersects(toRect(x.bbox), this.marquee));
    this.ctx.selection.set([...drag.base, ...inside.map((x) => x.id)]);
    this.render();
  }

  #up(e) {
    const drag = this.drag;
    if (!drag) return;
    e.stopPropagation();
    this.drag = null;
    this.guides = [];
    this.marquee = null;
    if (drag.mode === "draw") {
      const draft = this.draft;
      this.draft = null;
      if (draft && draft.x1 - draft.x0 >= 1 && draft.y1 - draft.y0 >= 1) cmd.addElement(this.ctx, toBbox(draft));
      else if (drag.clickId) this.ctx.selection.set([drag.clickId]);
    } else if (drag.moved) this.ctx.store.commit();
    this.render();
  }

  #abort() {
    if (!this.drag) return;
    this.drag = null;
    this.draft = null;
    this.marquee = null;
    this.guides = [];
    this.ctx.store.cancel();
    this.render();
  }

  /** View keys while the canvas has focus (space pan, 0 fit, 1 = 100 %, Escape); true when used. */
  handleKey(e) {
    const mod = e.ctrlKey || e.metaKey;
    if (e.key === " " && this.zoomable) {
      this.spaceDown = e.type === "keydown";
      this.canvas.style.cursor = this.spaceDown ? "grab" : "crosshair";
      return true;
    }
    if (e.type !== "keydown") return false;
    if (this.zoomable && !mod && !e.altKey && (e.key === "0" || e.key === "1")) {
      if (e.key === "0") this.zoomToFit();
      else this.zoomToActual();
      return true;
    }
    if (e.key !== "Escape") return false;
    if (this.drag) this.#abort();
    else this.ctx.selection.set([]);
    return true;
  }
}
