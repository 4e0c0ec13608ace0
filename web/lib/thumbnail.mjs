// The node's live thumbnail while the editor is in focus mode: the scene as the canvas paints it (preview or
// wireframe), without selection, redrawn on every change.

import { h } from "./dom.mjs";
import { drawScene } from "./renderer.mjs";

const MAX_PX = 320;

export function liveThumbnail(ctx) {
  const canvas = h("canvas.ig4-thumb", { "aria-hidden": "true" });
  let on = false;
  let frame = 0;

  function paint() {
    frame = 0;
    const w = Math.round(ctx.aspect >= 1 ? MAX_PX : MAX_PX * ctx.aspect);
    const hgt = Math.round(w / ctx.aspect);
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${hgt}px`;
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawScene(g, {
      w,
      h: hgt,
      state: ctx.store.state,
      selectedIds: [],
      hoverId: null,
      guides: [],
      draft: null,
      underlay: ctx.underlay,
      underlayFrame: ctx.underlayFrame,
      opacity: ctx.prefs.opacity,
      grid: 0,
      showLabels: false,
      wireframe: ctx.prefs.wireframe,
      errorIds: new Set(),
    });
  }
  const schedule = () => on && !frame && (frame = requestAnimationFrame(paint));
  for (const event of ["state", "prefs", "underlay", "aspect"]) ctx.hub.on(event, schedule);
  return {
    el: canvas,
    /** Paint while `active` (focus mode open). */
    set active(active) {
      on = active;
      if (on) schedule();
    },
  };
}
