// Colour chips: pick (native picker), paste hex, drag to reorder, remove; the cap is enforced here.

import { inkOn, parseColorList } from "./colors.mjs";
import { h } from "./dom.mjs";
import { icon } from "./icons.mjs";

/**
 * Palette editor. opts: {cap, onChange(palette, key)}. Returns {el, update(palette)}; `key` groups
 * picker drags into one undo step.
 */
export function paletteEditor({ cap, onChange }) {
  let palette = [];
  const chips = h("div.ig4-chips");
  const count = h("span.ig4-count");
  const note = h("div.ig4-note");
  const picker = h("input.ig4-hidden-picker", { type: "color", tabIndex: -1, "aria-label": "Colour picker" });
  let pickIndex = -1;
  const paste = h("input.ig4-hex-input", { type: "text", placeholder: "#RRGGBB…", spellcheck: false });
  const addBtn = h("button.ig4-icon-btn.ig4-add", {
    type: "button",
    title: "Add a colour",
    "aria-label": "Add a colour",
    textContent: "+",
  });
  const copyBtn = h("button.ig4-icon-btn", { type: "button", title: "Copy the palette as hex", "aria-label": "Copy the palette as hex" },
    icon("copy"),
  );

  const say = (text) => {
    note.textContent = text;
    note.hidden = !text;
  };

  /** Add colours up to the cap; report what was refused. */
  function add(colors) {
    const room = cap - palette.length;
    const accepted = colors.slice(0, Math.max(0, room));
    const refused = colors.length - accepted.length;
    if (accepted.length) onChange([...palette, ...accepted]);
    say(refused ? `At most ${cap} colours here — ${refused} not added.` : "");
    return accepted.length;
  }

  function openPicker(index) {
    pickIndex = index;
    picker.value = (palette[index] ?? "#808080").toLowerCase();
    picker.click();
  }

  picker.addEventListener("input", () => {
    const hex = picker.value.toUpperCase();
    if (pickIndex >= 0)
      onChange(
        palette.map((c, i) => (i === pickIndex ? hex : c)),
        "pick",
      );
    else if (add([hex])) pickIndex = palette.length - 1;
  });
  addBtn.addEventListener("click", () => {
    if (palette.length >= cap) say(`At most ${cap} colours here.`);
    else openPicker(-1);
  });
  copyBtn.addEventListener("click", () => navigator.clipboard?.writeText(palette.join(", ")).catch(() => {}));
  paste.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const colors = parseColorList(paste.value);
    if (!colors.length) say("No #RRGGBB colour found in that text.");
    else if (add(colors) === colors.length) paste.value = "";
  });
  paste.addEventListener("paste", (e) => {
    const colors = parseColorList(e.clipboardData?.getData("text"));
    if (!colors.length) return;
    e.preventDefault();
    add(colors);
  });

  function chip(color, index) {
    const remove = h("span.ig4-chip-x", { title: "Remove", textContent: "×" });
    const el = h(
      "button.ig4-chip",
      {
        type: "button",
        title: `${color} — click to edit, drag to reorder`,
        "aria-label": `Colour ${color} (Enter edits, Delete removes)`,
        dataset: { index },
      },
      remove,
    );
    el.style.background = color;
    el.style.color = inkOn(color);
    remove.addEventListener("pointerdown", (e) => e.stopPropagation());
    remove.addEventListener("click", (e) => {
      e.stopPropagation();
      onChange(palette.filter((_, i) => i !== index));
      say("");
    });
    el.addEventListener("pointerdown", (e) => startDrag(e, el, index));
    el.addEventListener("click", (e) => e.detail === 0 && openPicker(index)); // Enter or Space
    el.addEventListener("keydown", (e) => {
      if (e.key === "Delete" || e.key === "Backspace") onChange(palette.filter((_, i) => i !== index));
    });
    return el;
  }

  /** Drag a chip; a short click opens the picker instead. */
  function startDrag(e, el, from) {
    if (e.button !== 0) return;
    e.stopPropagation();
    const x0 = e.clientX;
    const y0 = e.clientY;
    let target = from;
    let dragging = false;
    el.setPointerCapture(e.pointerId);
    const move = (m) => {
      if (!dragging && Math.hypot(m.clientX - x0, m.clientY - y0) < 4) return;
      dragging = true;
      el.classList.add("dragging");
      const others = [...chips.children];
      target = nearestIndex(others, m.clientX, m.clientY);
      others.forEach((c, i) => c.classList.toggle("drop-here", i === target && i !== from));
    };
    const up = () => {
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.classList.remove("dragging");
      if (!dragging) return openPicker(from);
      if (target === from) return render();
      const next = [...palette];
      next.splice(target, 0, next.splice(from, 1)[0]);
      onChange(next);
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
  }

  function render() {
    chips.replaceChildren(...palette.map(chip));
    count.textContent = `${palette.length}/${cap}`;
    count.classList.toggle("full", palette.length >= cap);
    addBtn.disabled = palette.length >= cap;
  }

  const el = h(
    "div.ig4-palette",
    {},
    h("div.ig4-palette-row", {}, chips, addBtn),
    h("div.ig4-palette-row", {}, paste, copyBtn, count),
    note,
    picker,
  );
  say("");
  return {
    el,
    update(next) {
      if (next.join() === palette.join() && chips.children.length === next.length) return;
      palette = [...next];
      render();
    },
  };
}

function nearestIndex(elements, x, y) {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  elements.forEach((c, i) => {
    const r = c.getBoundingClientRect();
    const d = Math.hypot(r.left + r.width / 2 - x, r.top + r.height / 2 - y);
    if (d < bestD) [best, bestD] = [i, d];
  });
  return best;
}
