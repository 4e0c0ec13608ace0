// Global fields: high-level description, background, style (photo vs art style) and style palette.

import { MAX_STYLE_COLORS } from "./constants.mjs";
import { field, h, segmented, syncValue } from "./dom.mjs";
import { paletteEditor } from "./palette_editor.mjs";

const STYLE_FIELDS = [
  { key: "aesthetics", label: "Aesthetics", placeholder: "mood, finish, overall look" },
  { key: "lighting", label: "Lighting", placeholder: "golden hour, soft window light…" },
  { key: "photo", label: "Photo", placeholder: "camera, lens, aperture, angle", kind: "photo" },
  { key: "medium", label: "Medium", placeholder: "photograph, oil painting, 3D render…" },
  { key: "art_style", label: "Art style", placeholder: "flat vector, ukiyo-e, art nouveau…", kind: "art_style" },
];

export function scenePanel(ctx) {
  const { store } = ctx;
  const textarea = (rows, placeholder, apply, key) =>
    h("textarea.ig4-input", {
      rows,
      placeholder,
      on: { input: (e) => store.update((s) => apply(s, e.target.value), { key }) },
    });

  const high = textarea(3, "One or two sentences: the whole image at a glance", (s, v) => (s.high = v), "high");
  const background = textarea(
    2,
    "What fills the frame behind the elements",
    (s, v) => (s.background = v),
    "background",
  );
  const kind = segmented(
    [
      { value: "", label: "No style", title: "Leave style_description out" },
      { value: "photo", label: "Photo" },
      { value: "art_style", label: "Art style" },
    ],
    (value) => store.update((s) => (s.styleKind = value || null)),
  );
  const inputs = STYLE_FIELDS.map((f) => {
    const input = textarea(2, f.placeholder, (s, v) => (s.style[f.key] = v), `style.${f.key}`);
    return { ...f, input, wrap: field(f.label, input) };
  });
  const palette = paletteEditor({
    cap: MAX_STYLE_COLORS,
    onChange: (p, key) => store.update((s) => (s.style.palette = p), { key: key && "style.palette" }),
  });
  const styleBody = h(
    "div.ig4-style-body",
    {},
    inputs.map((f) => f.wrap),
    h("div.ig4-field", {}, h("span.ig4-field-label", { textContent: "Style palette" }), palette.el),
  );

  function render() {
    const s = store.state;
    syncValue(high, s.high);
    syncValue(background, s.background);
    kind.set(s.styleKind ?? "");
    styleBody.hidden = !s.styleKind;
    for (const f of inputs) {
      f.wrap.hidden = Boolean(f.kind) && f.kind !== s.styleKind;
      syncValue(f.input, s.style[f.key]);
    }
    palette.update(s.style.palette);
  }

  ctx.hub.on("state", (meta) => meta.transient || render());
  render();
  return h(
    "section.ig4-section",
    {},
    field("High-level description", high),
    field("Background", background),
    h("div.ig4-field", {}, h("span.ig4-field-label", { textContent: "Style" }), kind.el),
    styleBody,
  );
}
