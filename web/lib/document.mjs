// The node's stored document: JSON text {"caption": <caption object>, "editor": <view preferences>,
// "edit_elements"?: [1-based numbers ticked for re-rendering]}.
// The engine reads only "caption" (a bare caption is accepted too); "editor" is this widget's own state.

import { emptyState, fromCaption, toCaption } from "./model.mjs";
import { fixedProblems } from "./repair.mjs";

/** Canonical caption text: keys in trained order, minified, literal non-ASCII (as the engine writes it). */
export const captionText = (state) => JSON.stringify(toCaption(state));

/** 1-based numbers of the elements ticked for re-rendering (the node's edit_elements output). */
export const editNumbers = (state) => state.elements.flatMap((e, i) => (e.edit ? [i + 1] : []));

export const writeDocument = (state, prefs) => {
  const edit = editNumbers(state);
  return JSON.stringify({ caption: toCaption(state), editor: prefs, ...(edit.length ? { edit_elements: edit } : {}) });
};

/**
 * Read a stored document. Returns {state, prefs, error, adjustments}: error is set (and state empty)
 * when the caption cannot be read as JSON; adjustments lists what the editor had to change to hold
 * the caption (e.g. a box with min > max); an empty document is an empty caption.
 */
export function readDocument(text) {
  const empty = { state: emptyState(), prefs: {}, error: null, adjustments: [] };
  if (!text?.trim()) return empty;
  try {
    const doc = JSON.parse(text);
    const wrapped = doc && typeof doc === "object" && !Array.isArray(doc) && "caption" in doc;
    const raw = wrapped ? doc.caption : doc;
    const caption = typeof raw === "string" ? JSON.parse(raw) : raw;
    const state = fromCaption(caption);
    const ticked = wrapped && Array.isArray(doc.edit_elements) ? doc.edit_elements : [];
    state.elements.forEach((e, i) => (e.edit = ticked.includes(i + 1)));
    const prefs = wrapped && doc.editor && typeof doc.editor === "object" ? doc.editor : {};
    return { state, prefs, error: null, adjustments: fixedProblems(caption, toCaption(state)) };
  } catch (err) {
    return { ...empty, error: err.message };
  }
}

function pretty(value, indent) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object"))
      return `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
    return value.length ? `[\n${value.map((v) => inner + pretty(v, inner)).join(",\n")}\n${indent}]` : "[]";
  }
  const entries = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pretty(v, inner)}`);
  return entries.length ? `{\n${entries.join(",\n")}\n${indent}}` : "{}";
}

/** Readable caption JSON: indented, with boxes and palettes kept on one line. */
export const prettyCaption = (state) => pretty(toCaption(state), "");
