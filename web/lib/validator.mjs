// Caption verifier mirroring the engine's (ideogram4_core.caption.verify, SPEC §6) for instant feedback:
// same rules, same severities, same paths ("compositional_deconstruction.elements[2].bbox"; "" = whole
// caption). Problems are {path, message, fix, severity: "error" | "warning"}; valid = no errors.

import {
  COMPOSITION_KEYS,
  COORD_MAX,
  MAX_ELEMENT_COLORS,
  MAX_STYLE_COLORS,
  MAX_TOKENS,
  TOP_KEYS,
} from "./constants.mjs";

// One master key order per object; a caption's keys must follow it (filtered to the keys present).
const STYLE_ORDER = ["aesthetics", "lighting", "photo", "medium", "art_style", "color_palette"];
const ELEMENT_ORDER = ["type", "bbox", "text", "desc", "color_palette"];
const STYLE_REQUIRED = ["aesthetics", "lighting", "medium"];
const HEX = /^#[0-9A-F]{6}$/;
const NON_ASCII_ESCAPE = /\\u(?!00[0-7])[0-9a-fA-F]{4}/;
const BBOX_FIX = "write four integers [y_min, x_min, y_max, x_max], each 0..1000, origin top-left";

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
// Blank = only these space characters (the engine's rules.py uses the same list).
const BLANK = /^[ \t\n\r\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$/;
const isBlank = (v) => typeof v === "string" && BLANK.test(v);
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
const join = (path, key) => (typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key);
const typeName = (v) =>
  v === null
    ? "null"
    : Array.isArray(v)
      ? "a list"
      : isNumber(v)
        ? `the number ${v}`
        : typeof v === "object"
          ? "an object"
          : `a ${typeof v}`;

class Report {
  problems = [];
  /** Numbers written with a decimal point in the source text: array → set of indices. */
  decimals = new WeakMap();
  add(path, message, fix, severity = "error") {
    if (!this.problems.some((p) => p.path === path && p.message === message))
      this.problems.push({ path, message, fix, severity });
  }
  type(path, value, expected, severity = "error") {
    if (
      expected === "string" ? typeof value === "string" : expected === "list" ? Array.isArray(value) : isObject(value)
    )
      return true;
    const name = { string: "a string", list: "a list", object: "an object" }[expected];
    this.add(path, `expected ${name}, got ${typeName(value)}`, `make it ${name}`, severity);
    return false;
  }
  unknownKeys(obj, path, allowed) {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key))
        this.add(join(path, key), `unknown key "${key}"`, `remove it (allowed here: ${allowed.join(", ")})`);
    }
  }
  required(obj, path, keys) {
    for (const key of keys)
      if (!(key in obj)) this.add(join(path, key), `required key "${key}" is missing`, `add "${key}"`);
  }
  order(obj, path, order, severity = "error") {
    const present = Object.keys(obj).filter((k) => order.includes(k));
    const expected = order.filter((k) => k in obj);
    if (present.join() !== expected.join()) {
      this.add(
        path,
        `keys are in the wrong order: ${present.join(", ")}`,
        `write them as ${expected.join(", ")}`,
        severity,
      );
    }
  }
}

function checkPalette(r, value, path, cap) {
  if (!r.type(path, value, "list")) return;
  if (value.length > cap)
    r.add(path, `too many colours (${value.length}); at most ${cap} allowed here`, `keep at most ${cap}`);
  value.forEach((c, i) => {
    const p = join(path, i);
    if (r.type(p, c, "string") && !HEX.test(c))
      r.add(
        p,
        `${JSON.stringify(c)} is not an upper-case #RRGGBB colour`,
        "write # and six upper-case hex digits, e.g. #1A2B3C",
      );
  });
}

function checkBbox(r, bbox, path, ruleChecks) {
  if (!r.type(path, bbox, "list")) return;
  if (bbox.length !== 4) r.add(path, `a bbox has exactly 4 values, got ${bbox.length}`, BBOX_FIX);
  bbox.forEach((v, i) => {
    const p = join(path, i);
    if (!isNumber(v) || !Number.isInteger(v)) r.add(p, `bbox values must be integers, got ${typeName(v)}`, BBOX_FIX);
    if (isNumber(v) && (v < 0 || v > COORD_MAX)) r.add(p, `bbox value ${v} is outside 0..1000`, BBOX_FIX);
  });
  if (!ruleChecks || bbox.length !== 4 || !bbox.every(isNumber)) return;
  bbox.forEach((v, i) => {
    if (Number.isInteger(v) && r.decimals.get(bbox)?.has(i))
      r.add(join(path, i), `bbox value ${v} is written with a decimal point`, `write it as the integer ${v}`);
  });
  const [y0, x0, y1, x1] = bbox;
  for (const [axis, lo, hi] of [
    ["y", y0, y1],
    ["x", x0, x1],
  ]) {
    if (lo > hi)
      r.add(
        path,
        `${axis}_min (${lo}) is greater than ${axis}_max (${hi})`,
        "swap the two values (or check whether x and y were exchanged)",
      );
    else if (lo === hi)
      r.add(
        path,
        `the box has zero ${axis === "y" ? "height" : "width"} (${axis}_min = ${axis}_max = ${lo})`,
        `give it an area: make ${axis}_max greater than ${axis}_min`,
      );
  }
}

function checkStyle(r, style, path) {
  if (!r.type(path, style, "object")) return;
  r.required(style, path, STYLE_REQUIRED);
  r.unknownKeys(style, path, STYLE_ORDER);
  for (const key of STYLE_ORDER.slice(0, 5)) if (key in style) r.type(join(path, key), style[key], "string", "warning");
  if ("color_palette" in style) checkPalette(r, style.color_palette, join(path, "color_palette"), MAX_STYLE_COLORS);
  const photo = "photo" in style;
  const art = "art_style" in style;
  if (photo && art)
    r.add(path, 'has both "photo" and "art_style"', 'keep "photo" for photographs or "art_style" for everything else');
  else if (!photo && !art)
    r.add(
      path,
      'needs exactly one of "photo" or "art_style"',
      'add "photo" (photographs) or "art_style" (everything else)',
    );
  else r.order(style, path, STYLE_ORDER);
}

function checkElement(r, el, path) {
  if (!r.type(path, el, "object")) return;
  r.required(el, path, ["type", "desc"]);
  r.unknownKeys(el, path, ELEMENT_ORDER);
  const known = el.type === "obj" || el.type === "text";
  if ("type" in el && !known)
    r.add(join(path, "type"), `"type" must be "obj" or "text", got ${JSON.stringify(el.type)}`, 'use "obj" or "text"');
  if (el.type === "text") r.required(el, path, ["text"]);
  if (el.type === "text" && isBlank(el.text))
    r.add(join(path, "text"), "the literal text is empty", 'write the exact words to render, or change the type to "obj"');
  if (el.type === "obj" && "text" in el)
    r.add(
      join(path, "text"),
      'an element of type "obj" cannot have "text"',
      'change the type to "text", or move the words into "desc"',
    );
  for (const key of ["text", "desc"]) if (key in el) r.type(join(path, key), el[key], "string", "warning");
  if ("bbox" in el) checkBbox(r, el.bbox, join(path, "bbox"), known);
  if ("color_palette" in el) checkPalette(r, el.color_palette, join(path, "color_palette"), MAX_ELEMENT_COLORS);
  if (known) r.order(el, path, ELEMENT_ORDER);
}

function checkComposition(r, cd, path) {
  if (!r.type(path, cd, "object")) return;
  r.required(cd, path, COMPOSITION_KEYS);
  r.unknownKeys(cd, path, COMPOSITION_KEYS);
  if ("background" in cd) r.type(join(path, "background"), cd.background, "string");
  const elements = join(path, "elements");
  if ("elements" in cd && r.type(elements, cd.elements, "list"))
    cd.elements.forEach((el, i) => checkElement(r, el, join(elements, i)));
  r.order(cd, path, COMPOSITION_KEYS);
}

function verify(r, caption) {
  if (!r.type("", caption, "object")) return;
  r.required(caption, "", ["compositional_deconstruction"]);
  r.unknownKeys(caption, "", TOP_KEYS);
  if ("high_level_description" in caption) r.type("high_level_description", caption.high_level_description, "string");
  if ("style_description" in caption) checkStyle(r, caption.style_description, "style_description");
  if ("compositional_deconstruction" in caption)
    checkComposition(r, caption.compositional_deconstruction, "compositional_deconstruction");
  r.order(caption, "", TOP_KEYS, "warning");
  if (describesNothing(caption))
    r.add(
      "",
      "the caption is empty: no elements, no background and no high-level description",
      "describe the image: add elements, a background or a high-level description",
    );
}

/** A well-formed caption with nothing in it (engine rule; the official verifier accepts it). */
function describesNothing(caption) {
  const cd = caption.compositional_deconstruction;
  if (!isObject(cd) || !Array.isArray(cd.elements) || cd.elements.length) return false;
  return isBlank(cd.background) && isBlank(caption.high_level_description ?? "");
}

/** JSON.parse that also records which array items were written with a decimal point (880.0). */
function parseTracking(text, decimals) {
  return JSON.parse(text, function (key, value, context) {
    if (Array.isArray(this) && isNumber(value) && /[.eE]/.test(context?.source ?? "")) {
      if (!decimals.has(this)) decimals.set(this, new Set());
      decimals.get(this).add(Number(key));
    }
    return value;
  });
}

/**
 * Verify caption text exactly as given (or an already parsed object). Pass tokenCount (and
 * tokensExact) to apply the 2048-token limit: an error for an exact count, a warning for an estimate.
 * Returns {valid, problems, caption} (caption is null when the text is not JSON).
 */
export function validateCaption(input, { tokenCount = null, tokensExact = false } = {}) {
  const r = new Report();
  let caption = input;
  if (typeof input === "string") {
    if (NON_ASCII_ESCAPE.test(input) && !/[^\x00-\x7f]/.test(input)) {
      r.add(
        "",
        "non-ASCII characters are written as \\uXXXX escapes",
        "save with ensure_ascii=False (generation still runs)",
        "warning",
      );
    }
    try {
      caption = parseTracking(input, r.decimals);
    } catch (err) {
      r.add(
        "",
        `not valid JSON: ${err.message}`,
        "fix the syntax (Import repairs code fences, trailing commas and smart quotes)",
      );
      return { valid: false, problems: r.problems, caption: null };
    }
  }
  verify(r, caption);
  if (tokenCount != null && tokenCount > MAX_TOKENS) {
    const label = `${tokensExact ? "" : "≈"}${tokenCount}`;
    r.add(
      "",
      `the caption is ${label} tokens; the model accepts at most ${MAX_TOKENS}`,
      "shorten the descriptions or remove elements",
      tokensExact ? "error" : "warning",
    );
  }
  return { valid: !r.problems.some((p) => p.severity === "error"), problems: r.problems, caption };
}
