// The bar shown after the image size changed: "Keep boxes' shapes" (the default, applied at once) or
// "Stretch". Switching re-applies from the boxes as they were before the change, as one undo step each.

import { h, segmented } from "./dom.mjs";
import { containFrame, mapBbox } from "./remap.mjs";

export function remapBar(ctx) {
  let pending = null; // {original: Map(id → bbox), frame}
  const note = h("span");
  const choice = segmented(
    [
      { value: "keep", label: "Keep boxes' shapes", title: "Fit the old layout inside the new size" },
      { value: "stretch", label: "Stretch", title: "Keep the numbers: boxes stretch with the image" },
    ],
    (mode) => apply(mode),
    "How boxes follow the new size",
  );
  const el = h(
    "div.ig4-banner.ig4-remap",
    { hidden: true, role: "status" },
    note,
    choice.el,
    h("span.ig4-spacer"),
    h("button.ig4-btn", { type: "button", textContent: "Done", on: { click: () => (el.hidden = true) } }),
  );

  function apply(mode) {
    if (!pending) return;
    const { original, frame } = pending;
    ctx.setPrefs({ remap: mode });
    choice.set(mode);
    ctx.store.update((s) => {
      for (const e of s.elements) {
        const bbox = original.get(e.id);
        if (bbox) e.bbox = mode === "keep" ? mapBbox(bbox, frame) : [...bbox];
      }
    });
    ctx.underlayFrame = mode === "keep" && ctx.underlay ? frame : null;
    ctx.hub.emit("underlay", ctx.underlay);
  }

  /** The aspect went from `from` to `to` (width / height) with the size `label`: remap and offer the choice. */
  function offer(from, to, label) {
    const original = new Map(ctx.store.state.elements.filter((e) => e.bbox).map((e) => [e.id, e.bbox]));
    if (!original.size) return;
    pending = { original, frame: containFrame(from, to) };
    note.textContent = `Image size is now ${label}.`;
    el.hidden = false;
    apply(ctx.prefs.remap);
  }
  return { el, offer };
}
