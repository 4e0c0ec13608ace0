// Forgiving import, offline fallback for the engine route: only repairs that cannot change meaning
// (code fence, prose around the object, smart quotes used as JSON quotes, trailing commas, lower-case
// hex). Each repair is {path, message}, like the engine's.

import { validateCaption } from "./validator.mjs";

const FENCE = /```[\w-]*[ \t]*\n?([\s\S]*?)```/;
const SMART_QUOTES = "“”„‟";

function extractObject(text, repairs) {
  let t = text;
  const fence = t.match(FENCE);
  if (fence) {
    t = fence[1].trim();
    repairs.push({ path: "", message: "removed the Markdown code fence around the JSON" });
  }
  const start = t.indexOf("{");
  const end = t.lastIndexOf("}");
  if (start >= 0 && end > start && (start > 0 || end < t.length - 1)) {
    t = t.slice(start, end + 1);
    repairs.push({ path: "", message: "removed the text before/after the JSON object" });
  }
  return t;
}

/** Straighten smart quotes that delimit strings and drop commas before } or ] — outside strings only. */
function fixSyntax(text, repairs) {
  let out = "";
  let closer = ""; // characters that end the current string; "" outside strings
  let quotes = 0;
  let commas = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text[i];
    if (closer) {
      if (c === "\\") {
        out += text.slice(i, i + 2);
        i++;
        continue;
      }
      if (closer.includes(c)) {
        if (c !== '"') quotes++;
        c = '"';
        closer = "";
      }
    } else if (c === '"') closer = '"';
    else if (SMART_QUOTES.includes(c)) {
      quotes++;
      c = '"';
      closer = `${SMART_QUOTES}"`;
    } else if (c === "," && /^\s*[}\]]/.test(text.slice(i + 1))) {
      commas++;
      c = "";
    }
    out += c;
  }
  if (quotes)
    repairs.push({
      path: "",
      message: `replaced ${quotes} typographic quote(s) used as JSON quotes with straight quotes`,
    });
  if (commas) repairs.push({ path: "", message: `removed ${commas} trailing comma(s)` });
  return out;
}

function upperHex(value, path, repairs) {
  if (typeof value === "string" && /^#[0-9a-f]{6}$/i.test(value) && value !== value.toUpperCase()) {
    repairs.push({ path, message: `upper-cased ${value} to ${value.toUpperCase()}` });
    return value.toUpperCase();
  }
  if (Array.isArray(value)) return value.map((v, i) => upperHex(v, `${path}[${i}]`, repairs));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, upperHex(v, path ? `${path}.${k}` : k, repairs)]),
    );
  }
  return value;
}

/**
 * Parse caption text leniently. Returns {caption, repairs, error}: caption is the repaired value, or
 * null with error set when the text is not JSON even after the safe repairs.
 */
export function forgivingParse(text) {
  const repairs = [];
  const candidate = String(text ?? "")
    .trim()
    .replace(/^\uFEFF/, "");
  let caption;
  try {
    caption = JSON.parse(candidate);
  } catch {
    try {
      caption = JSON.parse(fixSyntax(extractObject(candidate, repairs), repairs));
    } catch (err) {
      return { caption: null, repairs, error: `not valid JSON even after repairs: ${err.message}` };
    }
  }
  return { caption: upperHex(caption, "", repairs), repairs, error: null };
}

/** Problems of `before` that `after` no longer has, as repairs ("fixed: …"). */
export function fixedProblems(before, after) {
  const key = (p) => `${p.path}|${p.message}`;
  const remaining = new Set(validateCaption(after).problems.map(key));
  return validateCaption(before)
    .problems.filter((p) => !remaining.has(key(p)))
    .map((p) => ({ path: p.path, message: `fixed: ${p.message}` }));
}
