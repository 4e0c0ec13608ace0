// Import of pasted/uploaded caption text through the forgiving import: the engine route when
// available, otherwise the JS fallback. Import is partial: what can be used comes in, and every problem
// left (elements skipped, errors still in the caption) is reported with its JSON path; text that is not
// JSON gets the line and column of the first syntax error. Mode "replace" swaps the caption, "merge" adds
// the elements on top of the current ones and fills only empty scene and style fields.
// Returns {ok, repairs: [{path, message}], problems: [{path, message}], error}.

import { fromCaption, toCaption } from "./model.mjs";
import { fixedProblems, forgivingParse } from "./repair.mjs";
import { validateCaption } from "./validator.mjs";

async function parseWithEngine(backend, text) {
  const r = await backend.check(text);
  if (!r.canonical) return null; // not JSON even for the engine: the local parse locates the error
  return { caption: JSON.parse(r.canonical), repairs: r.repairs ?? [], error: null };
}

/** "line L, column C" of a JSON.parse failure on `text`, or "" when the message names no position. */
export function syntaxLocation(text) {
  try {
    JSON.parse(text);
    return "";
  } catch (err) {
    const lc = err.message.match(/line (\d+) column (\d+)/);
    if (lc) return `line ${lc[1]}, column ${lc[2]}`;
    const at = err.message.match(/position (\d+)/);
    if (!at) return "";
    const before = text.slice(0, Number(at[1])).split("\n");
    return `line ${before.length}, column ${before.at(-1).length + 1}`;
  }
}

/** Elements that are not JSON objects: the import skips them. */
function skippedElements(caption) {
  const list = caption?.compositional_deconstruction?.elements;
  if (!Array.isArray(list)) return [];
  return list.flatMap((e, i) =>
    e && typeof e === "object" && !Array.isArray(e)
      ? []
      : [{ path: `compositional_deconstruction.elements[${i}]`, message: "skipped: an element must be an object" }],
  );
}

/** `current` with the imported elements added in front and its empty fields filled from `incoming`. */
function merged(current, incoming) {
  const style = { ...current.style };
  for (const [key, value] of Object.entries(incoming.style)) if (!style[key]?.length) style[key] = value;
  return {
    ...current,
    high: current.high.trim() ? current.high : incoming.high,
    background: current.background.trim() ? current.background : incoming.background,
    styleKind: current.styleKind ?? incoming.styleKind,
    style,
    elements: [...current.elements, ...incoming.elements],
  };
}

export async function importCaption(ctx, backend, text, mode = "replace") {
  let parsed = null;
  if (backend) {
    try {
      parsed = await parseWithEngine(backend, text);
    } catch {
      parsed = null; // engine unreachable: fall back to the local repairs
    }
  }
  parsed ??= forgivingParse(text);
  if (!parsed.caption) {
    const where = syntaxLocation(String(text ?? "").trim());
    const error = where ? `${parsed.error} (at ${where})` : parsed.error;
    return { ok: false, repairs: parsed.repairs, problems: [], error };
  }
  const incoming = fromCaption(parsed.caption);
  const repairs = [...parsed.repairs, ...fixedProblems(parsed.caption, toCaption(incoming))];
  const state = mode === "merge" ? merged(ctx.store.state, incoming) : incoming;
  const problems = [
    ...skippedElements(parsed.caption),
    ...validateCaption(toCaption(state)).problems.filter((p) => p.severity === "error"),
  ];
  ctx.selection.set(mode === "merge" ? incoming.elements.map((e) => e.id) : []);
  ctx.store.reset(state, { keepHistory: true });
  return { ok: true, repairs, problems, error: null };
}
