// Toolbar: undo/redo, tool (draw/select), draw type, aspect lock, snapping, grid, labels, wireframe/preview,
// arrange (align, distribute, lock, hide, copy/paste), reference opacity, Magic Prompt, focus, shortcut help.
// Returns {el, help}.

import { h, segmented } from "./dom.mjs";
import { arrangeBar } from "./arrange_bar.mjs";
import { icon } from "./icons.mjs";
import { helpPopover } from "./shortcuts.mjs";

const GRIDS = [0, 25, 50, 100];

export function toolbar(ctx, { onMagic = null, onFocus = null } = {}) {
  const { store } = ctx;
  const undo = h(
    "button.ig4-btn",
    { type: "button", title: "Undo (Ctrl+Z)", "aria-label": "Undo", on: { click: () => store.undo() } },
    icon("undo"),
  );
  const redo = h(
    "button.ig4-btn",
    { type: "button", title: "Redo (Ctrl+Shift+Z)", "aria-label": "Redo", on: { click: () => store.redo() } },
    icon("redo"),
  );
  const tool = segmented(
    [
      { value: "draw", label: "▭ Draw", title: "Drag draws a box, also over other boxes (R)" },
      { value: "select", label: "⬚ Select", title: "Drag moves boxes or selects a region (V)" },
    ],
    (value) => ctx.setPrefs({ tool: value }),
    "Canvas tool",
  );
  const draw = segmented(
    [
      { value: "obj", label: "◼ Object", title: "New boxes are objects" },
      { value: "text", label: "T Text", title: "New boxes are text" },
    ],
    (value) => ctx.setPrefs({ newType: value }),
    "Type of the next box you draw",
  );
  const toggle = (label, title, pref) =>
    h("button.ig4-btn.ig4-toggle", {
      type: "button",
      textContent: label,
      title,
      "aria-pressed": String(Boolean(ctx.prefs[pref])),
      on: { click: () => ctx.setPrefs({ [pref]: !ctx.prefs[pref] }) },
    });
  const snap = toggle("Snap", "Snap to canvas centre/edges and other boxes (hold Alt to bypass)", "snapObjects");
  const aspectLock = toggle("Aspect lock", "Resizing keeps each box's shape (or hold Shift)", "aspectLock");
  const labels = toggle("Labels", "Show labels on all boxes", "showLabels");
  const wireframe = toggle("Wireframe", "Outlines only (off: preview colours and text as the poster)", "wireframe");
  const magic = onMagic
    ? h("button.ig4-btn.ig4-magic-btn", {
        type: "button",
        textContent: "✦ Magic Prompt",
        title: "Write a full caption from a one-line idea",
        "aria-label": "Magic Prompt",
        on: { click: onMagic },
      })
    : null;
  const focus = h("button.ig4-btn.ig4-focus-btn", {
    type: "button",
    textContent: "⛶ Focus",
    title: "Full-window editor: wheel zooms, Space-drag pans, 0 fits, 1 = 100 % (Esc closes)",
    "aria-label": "Focus mode",
    on: { click: () => onFocus?.() },
  });
  const grid = h(
    "select.ig4-select",
    { title: "Grid snapping", on: { change: (e) => ctx.setPrefs({ grid: Number(e.target.value) }) } },
    GRIDS.map((g) => h("option", { value: String(g), textContent: g ? `Grid ${g}` : "No grid" })),
  );
  const opacity = h("input.ig4-range", {
    type: "range",
    min: 0,
    max: 100,
    title: "Reference image opacity",
    on: { input: (e) => ctx.setPrefs({ opacity: Number(e.target.value) / 100 }) },
  });
  const reference = h(
    "label.ig4-ref",
    { title: "Reference underlay (last result or the reference image input)" },
    h("span", { textContent: "Reference" }),
    opacity,
  );

  function render() {
    undo.disabled = !store.canUndo;
    redo.disabled = !store.canRedo;
    draw.set(ctx.prefs.newType);
    tool.set(ctx.prefs.tool);
    aspectLock.classList.toggle("on", ctx.prefs.aspectLock);
    for (const [button, on] of [
      [snap, ctx.prefs.snapObjects],
      [labels, ctx.prefs.showLabels],
      [wireframe, ctx.prefs.wireframe],
      [aspectLock, ctx.prefs.aspectLock],
    ])
      button.setAttribute("aria-pressed", String(on));
    snap.classList.toggle("on", ctx.prefs.snapObjects);
    labels.classList.toggle("on", ctx.prefs.showLabels);
    wireframe.classList.toggle("on", ctx.prefs.wireframe);
    grid.value = String(ctx.prefs.grid);
    opacity.value = String(Math.round(ctx.prefs.opacity * 100));
    reference.classList.toggle("disabled", !ctx.underlay);
  }
  for (const event of ["state", "prefs", "underlay"]) ctx.hub.on(event, render);
  ctx.hub.on("focus", (on) => {
    focus.textContent = on ? "✕ Close focus" : "⛶ Focus";
    focus.classList.toggle("on", on);
  });
  render();
  const help = helpPopover();
  const el = h(
    "div.ig4-toolbar",
    {},
    undo,
    redo,
    h("span.ig4-sep"),
    tool.el,
    draw.el,
    aspectLock,
    h("span.ig4-sep"),
    snap,
    grid,
    labels,
    wireframe,
    h("span.ig4-spacer"),
    magic,
    reference,
    focus,
    help.el,
    arrangeBar(ctx),
  );
  return { el, help };
}
