// In-place editing: double-click a box to edit its literal text (text elements) or its description
// (objects) in a field laid over the box. Enter or leaving the field keeps the change (one undo step),
// Shift+Enter starts a new line, Escape throws it away.

import * as cmd from "./commands.mjs";
import { h } from "./dom.mjs";

export function inlineEditor(ctx, view) {
  const field = h("textarea.ig4-inline", { hidden: true, spellcheck: true, rows: 1 });
  let editing = null; // {id, key}

  function close(keep) {
    if (!editing) return;
    const { id, key } = editing;
    editing = null;
    field.hidden = true;
    if (keep) cmd.patchElement(ctx, id, { [key]: field.value });
    view.canvas.focus({ preventScroll: true });
  }

  /** Start editing element `id` in place. */
  function open(id) {
    const el = ctx.store.state.elements.find((e) => e.id === id);
    if (!el?.bbox) return;
    const key = el.type === "text" ? "text" : "desc";
    editing = { id, key };
    const r = view.stageRect(el.bbox);
    Object.assign(field.style, { left: `${r.x}px`, top: `${r.y}px`, width: `${r.w}px`, height: `${r.h}px` });
    field.value = el[key];
    field.placeholder = key === "text" ? "Literal text, exactly as it should appear" : "What is in this box";
    const what = key === "text" ? "Literal text" : "Description";
    field.setAttribute("aria-label", `${what} of element ${ctx.store.state.elements.indexOf(el) + 1}`);
    field.hidden = false;
    ctx.selection.set([id]);
    field.focus();
    field.select();
  }

  field.addEventListener("keydown", (e) => {
    if (e.key === "Escape") close(false);
    else if (e.key === "Enter" && !e.shiftKey) close(true);
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  field.addEventListener("blur", () => close(true));
  field.addEventListener("pointerdown", (e) => e.stopPropagation());
  view.canvas.addEventListener("dblclick", (e) => {
    const id = view.elementAt(e);
    if (id) open(id);
  });
  ctx.hub.on("view", () => close(true));
  view.el.append(field);
  return { open };
}
