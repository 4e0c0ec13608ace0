// Layers list: front-most element on top; click to select (shift = add), drag to change z-order, tick
// elements for re-rendering (the node's edit_elements output), lock or hide them. Rows show the literal text of
// text elements; numbers are list positions (the numbers the engine and the CLI use).
// Rows are rebuilt only for elements that changed (states share unchanged elements), so typing in one
// element costs one row, and selection or verdict changes only toggle classes.

import * as cmd from "./commands.mjs";
import { h } from "./dom.mjs";
import { icon } from "./icons.mjs";
import { hueOf } from "./renderer.mjs";

export function layersPanel(ctx) {
  const list = h("div.ig4-layers", { role: "listbox" });
  const button = (content, title, fn) =>
    h("button.ig4-btn", { type: "button", title, "aria-label": title, on: { click: fn } }, content);
  const tools = h(
    "div.ig4-row.ig4-layer-tools",
    {},
    button("+ Object", "Add an object element", () => cmd.addElement(ctx, [250, 250, 750, 750], "obj")),
    button("+ Text", "Add a text element", () => cmd.addElement(ctx, [400, 200, 600, 800], "text")),
    h("span.ig4-spacer"),
    button(icon("up"), "Bring forward ( ] )", () => cmd.restack(ctx, 1)),
    button(icon("down"), "Send backward ( [ )", () => cmd.restack(ctx, -1)),
    button(icon("duplicate"), "Duplicate (Ctrl+D)", () => cmd.duplicateSelected(ctx)),
    button(icon("trash"), "Delete (Del)", () => cmd.deleteSelected(ctx)),
  );

  const rows = new Map(); // id -> {el, index, item}

  function row(el, index) {
    const label = (el.type === "text" && el.text.trim() ? `“${el.text}”` : el.desc.trim()) || "no description";
    const tick = h("input.ig4-edit-tick", {
      type: "checkbox",
      checked: Boolean(el.edit),
      title: "Re-render this element (edit_elements output)",
      "aria-label": `Re-render element ${index + 1}`,
      on: { change: (e) => cmd.patchElement(ctx, el.id, { edit: e.target.checked }) },
    });
    tick.addEventListener("pointerdown", (e) => e.stopPropagation());
    const flag = (name, on, off, glyph) => {
      const b = h("button.ig4-layer-flag", {
        type: "button",
        textContent: glyph,
        title: el[name] ? off : on,
        "aria-label": `${el[name] ? off : on} element ${index + 1}`,
        "aria-pressed": String(Boolean(el[name])),
        on: { click: () => cmd.toggleFlag(ctx, name, [el.id]) },
      });
      b.classList.toggle("on", Boolean(el[name]));
      b.addEventListener("pointerdown", (e) => e.stopPropagation());
      return b;
    };
    const dots = el.palette.map((c) => h("span.ig4-dot", { style: { background: c } }));
    const item = h(
      "div.ig4-layer",
      {
        role: "option",
        tabIndex: 0,
        "aria-label": `Element ${index + 1}: ${label}`,
        dataset: { id: el.id, index },
        title: "Click (or Enter) to select, shift to add, drag to reorder",
      },
      h("span.ig4-grip", { textContent: "⋮⋮" }),
      h("span.ig4-layer-num", {
        textContent: String(index + 1),
        style: { background: `hsl(${hueOf(el.id)}, 70%, 55%)` },
      }),
      h("span.ig4-badge", { textContent: el.type === "text" ? "T" : "obj" }),
      h("span.ig4-layer-label", { textContent: label }),
      el.bbox ? null : h("span.ig4-tag", { textContent: "no box" }),
      h("span.ig4-dots", {}, dots),
      flag("locked", "Lock", "Unlock", "🔒"),
      flag("hidden", "Hide", "Show", "👁"),
      tick,
    );
    item.addEventListener("pointerdown", (e) => startDrag(e, item, index));
    item.addEventListener("keydown", (e) => {
      if (e.target !== item || (e.key !== "Enter" && e.key !== " ")) return;
      e.preventDefault();
      if (e.shiftKey) ctx.selection.toggle(el.id);
      else ctx.selection.set([el.id]);
    });
    return item;
  }

  function startDrag(e, item, from) {
    if (e.button !== 0) return;
    e.stopPropagation();
    const y0 = e.clientY;
    let dragging = false;
    let to = from;
    item.setPointerCapture(e.pointerId);
    const move = (m) => {
      if (!dragging && Math.abs(m.clientY - y0) < 4) return;
      dragging = true;
      item.classList.add("dragging");
      to = dropIndex(m.clientY);
      for (const r of list.children) r.classList.toggle("drop-here", Number(r.dataset.index) === to && to !== from);
    };
    const up = (u) => {
      item.removeEventListener("pointermove", move);
      item.removeEventListener("pointerup", up);
      for (const r of list.children) r.classList.remove("drop-here", "dragging");
      if (dragging) cmd.moveElement(ctx, from, to);
      else if (u.shiftKey) ctx.selection.toggle(item.dataset.id);
      else ctx.selection.set([item.dataset.id]);
    };
    item.addEventListener("pointermove", move);
    item.addEventListener("pointerup", up);
  }

  /** Element index the pointer is over (rows are listed front-most first). */
  function dropIndex(y) {
    const rows = [...list.children];
    const hit = rows.find((r) => y < r.getBoundingClientRect().bottom) ?? rows.at(-1);
    return Number(hit.dataset.index);
  }

  function render() {
    const els = ctx.store.state.elements;
    const live = new Set();
    const items = els.map((el, index) => {
      live.add(el.id);
      let cached = rows.get(el.id);
      if (!cached || cached.el !== el || cached.index !== index) {
        cached = { el, index, item: row(el, index) };
        rows.set(el.id, cached);
      }
      return cached.item;
    });
    for (const id of rows.keys()) if (!live.has(id)) rows.delete(id);
    items.reverse();
    const current = [...list.children];
    if (!items.length) list.replaceChildren(h("div.ig4-empty", { textContent: "No elements yet — drag on the canvas." }));
    else if (items.length !== current.length || items.some((item, i) => item !== current[i]))
      list.replaceChildren(...items);
    mark();
  }

  /** Selection and error classes only. */
  function mark() {
    for (const { el, item } of rows.values()) {
      item.classList.toggle("selected", ctx.selection.has(el.id));
      item.classList.toggle("has-error", ctx.errorIds?.has(el.id) ?? false);
      item.setAttribute("aria-selected", String(ctx.selection.has(el.id)));
    }
  }

  ctx.hub.on("state", (meta) => meta.transient || render());
  ctx.hub.on("selection", mark);
  ctx.hub.on("report", mark);
  render();
  return h(
    "section.ig4-section",
    {},
    h("h4.ig4-h", {}, "Layers", h("small", { textContent: " front on top" })),
    tools,
    list,
  );
}
