// The node's stored document: JSON text {"caption": <caption object>, "editor": <view preferences>,
// "edit_elements"?: [1-based numbers ticked for re-rendering], "layers"?: {"locked"?: [numbers], "hidden"?: [numbers]}}.
// The engine reads only "caption" (a bare caption is accepted too); "editor" is this widget's own state.

import { emptyState, fromCaption, toCaption } from "./model.mjs";
import { fixedProblems } from "./repair.mjs";

/** Canonical caption text: keys in trained order, minified, literal non-ASCII (as the engine writes it). */
export const captionText = (state) => JSON.stringify(toCaption(state));

/** 1-based numbers of the elements whose `flag` is set. */
const flagNumbers = (state, flag) => state.elements.flatMap((e, i) => (e[flag] ? [i + 1] : []));

/** 1-based numbers of the elements ticked for re-rendering (the node's edit_elements output). */
export const editNumbers = (state) => flagNumbers(state, "edit");

const LAYER_FLAGS = ["locked", "hidden"];

export const writeDocument = (state, prefs) => {
  const edit = editNumbers(state);
  const layers = Object.fromEntries(
    LAYER_FLAGS.map((flag) => [flag, flagNumbers(state, flag)]).filter(([, numbers]) => numbers.length),
  );
  return JSON.stringify({
    caption: toCaption(state),
    editor: prefs,
    ...(edit.length ? { edit_elements: edit } : {}),
    ...(Object.keys(layers).length ? { layers } : {}),
  });
};

/** The 1-based numbers stored under doc[key] (an array), or []. */
const numbersAt = (holder, key) => (holder && Array.isArray(holder[key]) ? holder[key] : []);

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
    const ticked = wrapped ? numbersAt(doc, "edit_elements") : [];
    const layers = wrapped && doc.layers && typeof doc.layers === "object" ? doc.layers : null;
    state.elements.forEach((e, i) => {
      e.edit = ticked.includes(i + 1);
      for (const flag of LAYER_FLAGS) e[flag] = numbersAt(layers, flag).includes(i + 1);
    });
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
