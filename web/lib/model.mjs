// Editor state <-> caption object. The editor state is a plain JSON-cloneable object:
// { high, styleKind, style: {aesthetics, lighting, photo, art_style, medium, palette},
//   background, elements: [{id, type, bbox|null, text, desc, palette, edit (ticked for re-rendering),
//   locked (not picked or moved on the canvas), hidden (not drawn)}] }
// Element order is the z-order: later elements are drawn in front.

import { COORD_MAX } from "./constants.mjs";

let idCounter = 0;
export const newId = () => `e${Date.now().toString(36)}${(idCounter++).toString(36)}`;

export function emptyState() {
  return {
    high: "",
    styleKind: null,
    style: { aesthetics: "", lighting: "", photo: "", art_style: "", medium: "", palette: [] },
    background: "",
    elements: [],
  };
}

export function newElement(type, bbox) {
  return { id: newId(), type, bbox, text: "", desc: "", palette: [], edit: false, locked: false, hidden: false };
}

const str = (v) => (typeof v === "string" ? v : v == null ? "" : String(v));
const palette = (v) => (Array.isArray(v) ? v.filter((c) => typeof c === "string") : []);

function bboxOf(v) {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((n) => Number.isFinite(Number(n)))) return null;
  const [y0, x0, y1, x1] = v.map((n) => Math.max(0, Math.min(COORD_MAX, Math.round(Number(n)))));
  return [Math.min(y0, y1), Math.min(x0, x1), Math.max(y0, y1), Math.max(x0, x1)];
}

/** Build editor state from a (possibly imperfect) caption object; keeps what it can use. */
export function fromCaption(caption) {
  const state = emptyState();
  if (!caption || typeof caption !== "object" || Array.isArray(caption)) return state;
  state.high = str(caption.high_level_description);
  const sd = caption.style_description;
  if (sd && typeof sd === "object" && !Array.isArray(sd)) {
    state.styleKind = "art_style" in sd && !("photo" in sd) ? "art_style" : "photo";
    for (const key of ["aesthetics", "lighting", "photo", "art_style", "medium"]) state.style[key] = str(sd[key]);
    state.style.palette = palette(sd.color_palette);
  }
  const cd = caption.compositional_deconstruction;
  if (cd && typeof cd === "object") {
    state.background = str(cd.background);
    const elements = Array.isArray(cd.elements) ? cd.elements : [];
    state.elements = elements
      .filter((e) => e && typeof e === "object")
      .map((e) => ({
        id: newId(),
        type: e.type === "text" ? "text" : "obj",
        bbox: bboxOf(e.bbox),
        text: str(e.text),
        desc: str(e.desc),
        palette: palette(e.color_palette),
        edit: false,
        locked: false,
        hidden: false,
      }));
  }
  return state;
}

/** The caption object for a state, keys in the order the model was trained on. */
export function toCaption(state) {
  const caption = {};
  if (state.high.trim()) caption.high_level_description = state.high;
  if (state.styleKind) {
    const s = state.style;
    const sd = { aesthetics: s.aesthetics, lighting: s.lighting };
    if (state.styleKind === "photo") Object.assign(sd, { photo: s.photo, medium: s.medium });
    else Object.assign(sd, { medium: s.medium, art_style: s.art_style });
    if (s.palette.length) sd.color_palette = [...s.palette];
    caption.style_description = sd;
  }
  caption.compositional_deconstruction = {
    background: state.background,
    elements: state.elements.map((e) => {
      const out = { type: e.type };
      if (e.bbox) out.bbox = [...e.bbox];
      if (e.type === "text") out.text = e.text;
      out.desc = e.desc;
      if (e.palette.length) out.color_palette = [...e.palette];
      return out;
    }),
  };
  return caption;
}
