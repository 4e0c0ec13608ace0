// Template gallery: starting layouts (templates.json: poster, square social post, wide banner, packaging
// label, menu, infographic), each a valid caption with the image size it was laid out for. Choosing one
// replaces the caption as one undo step.

import { h } from "./dom.mjs";
import { fromCaption } from "./model.mjs";

const SOURCE = new URL("./templates.json", import.meta.url);

export function templateGallery(ctx) {
  const grid = h("div.ig4-templates", { role: "list", "aria-label": "Templates" });
  const note = h("div.ig4-note", { role: "status" });
  fetch(SOURCE)
    .then((r) => r.json())
    .then((templates) => {
      grid.replaceChildren(
        ...templates.map((t) =>
          h(
            "button.ig4-btn.ig4-template",
            {
              type: "button",
              role: "listitem",
              dataset: { template: t.id },
              "aria-label": `Template: ${t.name} (${t.width}×${t.height})`,
              on: { click: () => use(t) },
            },
            h("strong", { textContent: t.name }),
            h("small", { textContent: ` ${t.width}×${t.height}` }),
          ),
        ),
      );
    })
    .catch((err) => (note.textContent = `Templates unavailable: ${err.message}`));

  function use(t) {
    ctx.selection.set([]);
    ctx.store.reset(fromCaption(t.caption), { keepHistory: true });
    const size = `${t.width}×${t.height}`;
    note.textContent = `“${t.name}” loaded — laid out for ${size}; set the node's width and height to match.`;
  }
  return h("div", {}, h("h4.ig4-h", { textContent: "Templates" }), grid, note);
}
