// Inspector for the selected element: type, literal text, description, box, palette, its problems.

import * as cmd from "./commands.mjs";
import { COORD_MAX, MAX_ELEMENT_COLORS } from "./constants.mjs";
import { field, h, segmented, syncValue } from "./dom.mjs";
import { clampCoord, normalise, toBbox, toRect } from "./geometry.mjs";
import { paletteEditor } from "./palette_editor.mjs";

const BOX_FIELDS = ["y_min", "x_min", "y_max", "x_max"];

export function elementPanel(ctx) {
  const selected = () => ctx.store.state.elements.find((e) => e.id === ctx.selection.primary) ?? null;
  const patch = (p, key) => {
    const el = selected();
    if (el) cmd.patchElement(ctx, el.id, p, key);
  };

  const title = h("h4.ig4-h");
  const type = segmented(
    [
      { value: "obj", label: "Object" },
      { value: "text", label: "Text" },
    ],
    (value) => patch({ type: value }),
  );
  const text = h("textarea.ig4-input", {
    rows: 2,
    placeholder: "The exact words to render",
    on: { input: () => patch({ text: text.value }, "text") },
  });
  const desc = h("textarea.ig4-input", {
    rows: 3,
    placeholder: "What it is, what it looks like",
    on: { input: () => patch({ desc: desc.value }, "desc") },
  });
  const box = BOX_FIELDS.map((name, i) =>
    h("input.ig4-input.ig4-num", {
      type: "number",
      min: 0,
      max: COORD_MAX,
      title: name,
      on: {
        change: (e) => {
          const el = selected();
          if (!el?.bbox) return;
          const bbox = [...el.bbox];
          bbox[i] = clampCoord(Math.round(Number(e.target.value) || 0));
          patch({ bbox: toBbox(normalise(toRect(bbox))) });
        },
      },
    }),
  );
  const boxToggle = h("button.ig4-btn", {
    type: "button",
    on: { click: () => selected() && cmd.toggleBox(ctx, selected().id) },
  });
  const boxRow = h(
    "div.ig4-box-row",
    {},
    box.map((input, i) => h("label.ig4-mini", {}, h("span", { textContent: BOX_FIELDS[i] }), input)),
  );
  const palette = paletteEditor({ cap: MAX_ELEMENT_COLORS, onChange: (p, key) => patch({ palette: p }, key) });
  const problems = h("ul.ig4-problems");
  const textField = field("Literal text", text);

  const editor = h(
    "div.ig4-inspector",
    {},
    h("div.ig4-row", {}, title, h("span.ig4-spacer"), type.el),
    textField,
    field("Description", desc),
    h(
      "div.ig4-field",
      {},
      h(
        "span.ig4-field-label",
        {},
        "Box ",
        h("small", { textContent: "0–1000, origin top-left" }),
        h("span.ig4-spacer"),
        boxToggle,
      ),
      boxRow,
    ),
    h("div.ig4-field", {}, h("span.ig4-field-label", { textContent: "Palette" }), palette.el),
    problems,
  );
  const hint = h(
    "div.ig4-hint",
    {},
    h("p", {
      textContent:
        "Drag on the canvas to draw a box (also over others). Click to select, shift-click to add; double-click edits in place.",
    }),
    h(
      "p",
      {},
      h("kbd", { textContent: "←↑→↓" }),
      " nudge (",
      h("kbd", { textContent: "Shift" }),
      " ×10) · ",
      h("kbd", { textContent: "Del" }),
      " delete · ",
      h("kbd", { textContent: "[ ]" }),
      " z-order · ",
      h("kbd", { textContent: "Ctrl+D" }),
      " duplicate · ",
      h("kbd", { textContent: "Alt" }),
      " drag without snapping · ",
      h("kbd", { textContent: "?" }),
      " all shortcuts",
    ),
  );
  const multi = h("div.ig4-hint");
  const root = h("section.ig4-section", {}, editor, hint, multi);

  function render() {
    const el = selected();
    const count = ctx.selection.ids.length;
    editor.hidden = !el || count > 1;
    hint.hidden = count > 0;
    multi.hidden = count < 2;
    multi.textContent = `${count} elements selected — drag one to move them together; arrows nudge all.`;
    if (!el || count > 1) return;
    const index = ctx.store.state.elements.indexOf(el);
    title.textContent = `Element ${index + 1}`;
    type.set(el.type);
    textField.hidden = el.type !== "text";
    syncValue(text, el.text);
    syncValue(desc, el.desc);
    box.forEach((input, i) => {
      input.disabled = !el.bbox;
      syncValue(input, el.bbox ? String(el.bbox[i]) : "");
    });
    boxToggle.textContent = el.bbox ? "Remove box" : "Add box";
    palette.update(el.palette);
    const prefix = `compositional_deconstruction.elements[${index}]`;
    const mine = ctx.report.problems.filter(
      (p) => p.path === prefix || p.path.startsWith(`${prefix}.`) || p.path.startsWith(`${prefix}[`),
    );
    problems.replaceChildren(
      ...mine.map((p) => h(`li.ig4-problem.${p.severity}`, { textContent: `${p.message} — ${p.fix}` })),
    );
  }

  for (const event of ["state", "selection", "report"]) ctx.hub.on(event, render);
  render();
  return root;
}
