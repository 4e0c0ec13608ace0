// The selected element's palette, floating beside its box on the canvas (not below the fold in the side
// panel). Hidden while nothing or several elements are selected, and during a drag.

import * as cmd from "./commands.mjs";
import { MAX_ELEMENT_COLORS } from "./constants.mjs";
import { h } from "./dom.mjs";
import { paletteEditor } from "./palette_editor.mjs";

const GAP_PX = 8;

export function boxPalette(ctx, view) {
  let id = null;
  const palette = paletteEditor({
    cap: MAX_ELEMENT_COLORS,
    onChange: (p, key) => id && cmd.patchElement(ctx, id, { palette: p }, key),
  });
  const el = h(
    "div.ig4-box-palette",
    { role: "group", "aria-label": "Palette of the selected element", hidden: true },
    palette.el,
  );
  el.addEventListener("pointerdown", (e) => e.stopPropagation());

  let shown = null; // [id, bbox, palette, hidden] last laid out: typing in a description moves nothing
  function place(meta = {}, force = false) {
    const ids = ctx.selection.ids;
    const target = ids.length === 1 ? ctx.store.state.elements.find((e) => e.id === ids[0]) : null;
    const key = target && [target.id, target.bbox, target.palette, target.hidden];
    if (!force && !meta.transient && key && shown?.every((v, i) => v === key[i])) return;
    shown = meta.transient ? null : key;
    el.hidden = !target?.bbox || target.hidden || Boolean(meta.transient);
    if (el.hidden) return;
    id = target.id;
    palette.update(target.palette);
    const r = view.stageRect(target.bbox);
    const width = el.offsetWidth;
    const right = r.x + r.w + GAP_PX;
    const x = right + width <= view.el.clientWidth ? right : Math.max(0, r.x - GAP_PX - width);
    el.style.left = `${x}px`;
    el.style.top = `${Math.max(0, Math.min(r.y, view.el.clientHeight - el.offsetHeight))}px`;
  }
  ctx.hub.on("selection", () => place());
  ctx.hub.on("state", place);
  ctx.hub.on("view", () => place({}, true));
  view.el.append(el);
  return el;
}
