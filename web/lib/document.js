// The node's stored document: JSON text {"caption": <caption object>, "editor": <view preferences>}.
// The engine reads only "caption" (a bare caption is accepted too); "editor" is this widget's own state.

import { emptyState, fromCaption, toCaption } from "./model.js";

/** Canonical caption text: keys in trained order, minified, literal non-ASCII (as the engine writes it). */
export const captionText = (state) => JSON.stringify(toCaption(state));

export const writeDocument = (state, prefs) => JSON.stringify({ caption: toCaption(state), editor: prefs });

/**
 * Read a stored document. Returns {state, prefs, error}: error is set (and state empty) when the
 * caption cannot be read as JSON; an empty document is an empty caption.
 */
export function readDocument(text) {
  if (!text?.trim()) return { state: emptyState(), prefs: {}, error: null };
  try {
    const doc = JSON.parse(text);
    const wrapped = doc && typeof doc === "object" && !Array.isArray(doc) && "caption" in doc;
    const caption = wrapped ? doc.caption : doc;
    const prefs = wrapped && doc.editor && typeof doc.editor === "object" ? doc.editor : {};
    return { state: fromCaption(typeof caption === "string" ? JSON.parse(caption) : caption), prefs, error: null };
  } catch (err) {
    return { state: emptyState(), prefs: {}, error: err.message };
  }
}

function pretty(value, indent) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) return `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
    return value.length ? `[\n${value.map((v) => inner + pretty(v, inner)).join(",\n")}\n${indent}]` : "[]";
  }
  const entries = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pretty(v, inner)}`);
  return entries.length ? `{\n${entries.join(",\n")}\n${indent}}` : "{}";
}

/** Readable caption JSON: indented, with boxes and palettes kept on one line. */
export const prettyCaption = (state) => pretty(toCaption(state), "");
