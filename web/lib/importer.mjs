// Import of pasted/uploaded caption text through the forgiving import: the engine route when
// available, otherwise the JS fallback. Returns {ok, repairs: [{path, message}], error}.

import { fromCaption, toCaption } from "./model.mjs";
import { fixedProblems, forgivingParse } from "./repair.mjs";

async function parseWithEngine(backend, text) {
  const r = await backend.check(text);
  if (!r.canonical) {
    const first = r.problems?.find((p) => p.severity === "error");
    return {
      caption: null,
      repairs: r.repairs ?? [],
      error: first ? `${first.message} — ${first.fix}` : "the engine could not read this caption",
    };
  }
  return { caption: JSON.parse(r.canonical), repairs: r.repairs ?? [], error: null };
}

export async function importCaption(ctx, backend, text) {
  let parsed = null;
  if (backend) {
    try {
      parsed = await parseWithEngine(backend, text);
    } catch {
      parsed = null; // engine unreachable: fall back to the local repairs
    }
  }
  parsed ??= forgivingParse(text);
  if (!parsed.caption) return { ok: false, repairs: parsed.repairs, error: parsed.error };
  const state = fromCaption(parsed.caption);
  const repairs = [...parsed.repairs, ...fixedProblems(parsed.caption, toCaption(state))];
  ctx.selection.set([]);
  ctx.store.reset(state, { keepHistory: true });
  return { ok: true, repairs, error: null };
}
