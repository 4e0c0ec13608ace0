// Designer lint: warnings about a layout that is valid but likely to disappoint. Twin of
// ideogram4_core/caption/lint.py (same rules, thresholds and messages; the rules are explained there):
// small text (letters under 16 px, one token of the model's grid), overlapping text boxes, low contrast
// of a text colour on the background colour, text inside the 5 % safe margin.

import { COORD_MAX } from "./constants.mjs";

const ADVANCE_EM = 0.55;
const LINE_EM = 1.2;
const CAP_EM = 0.7;
const MIN_GLYPH_PX = 16;
const OVERLAP_SHARE = 0.1;
const MIN_CONTRAST = 3;
const MARGIN = 50;
const ELEMENTS = "compositional_deconstruction.elements";
const HEX = /^#[0-9A-Fa-f]{6}$/;
const SPACE = /[ \t\n\r]+/;

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
const warning = (path, message, fix) => ({ path, message, fix, severity: "warning" });

function boxOf(element) {
  const b = element.bbox;
  if (!Array.isArray(b) || b.length !== 4 || !b.every(isNumber) || b[2] <= b[0] || b[3] <= b[1]) return null;
  return b;
}

function paletteHead(holder) {
  const head = isObject(holder) && Array.isArray(holder.color_palette) ? holder.color_palette[0] : null;
  return typeof head === "string" && HEX.test(head) ? head.toUpperCase() : null;
}

const length = (s) => [...s].length; // code points, as Python's len

/** Cap height in pixels of `text` set as large as fits a boxW × boxH px box. */
export function glyphPx(text, boxW, boxH) {
  const words = text.split(SPACE).filter(Boolean);
  if (!words.length) return Infinity;
  const chars = words.reduce((n, w) => n + length(w), 0) + words.length - 1;
  const longest = Math.max(...words.map(length));
  const em = Math.min(
    boxH / LINE_EM,
    Math.sqrt((boxW * boxH) / (ADVANCE_EM * LINE_EM * chars)),
    boxW / (ADVANCE_EM * longest),
  );
  return CAP_EM * em;
}

function smallText(element, [y0, x0, y1, x1], path, width, height) {
  if (typeof element.text !== "string") return [];
  const glyph = glyphPx(element.text, ((x1 - x0) * width) / COORD_MAX, ((y1 - y0) * height) / COORD_MAX);
  if (glyph >= MIN_GLYPH_PX) return [];
  return [
    warning(
      path,
      `text may be too small to render legibly: its letters would be about ${Math.floor(glyph)} px tall ` +
        `at ${width}×${height} (under ${MIN_GLYPH_PX} px, one token of the model's grid)`,
      "make the box larger, shorten the text, or raise the image size",
    ),
  ];
}

function overlaps(a, b) {
  const dy = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const dx = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (dy <= 0 || dx <= 0) return false;
  const smaller = Math.min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]));
  return dx * dy > OVERLAP_SHARE * smaller;
}

function luminance(hex) {
  const channel = (k) => {
    const c = parseInt(hex.slice(k, k + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** WCAG contrast ratio of two #RRGGBB colours (1 to 21). */
export function contrastRatio(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

function contrast(element, background, path) {
  const ink = paletteHead(element);
  if (!background || !ink) return [];
  const ratio = contrastRatio(ink, background);
  if (ratio >= MIN_CONTRAST) return [];
  const shown = (Math.floor(ratio * 10) / 10).toFixed(1);
  return [
    warning(
      `${path}.color_palette`,
      `low contrast: text colour ${ink} on the background colour ${background} is ${shown}:1 (under ${MIN_CONTRAST}:1)`,
      "pick a lighter or darker text colour, or change the first colour of the global palette",
    ),
  ];
}

function margin([y0, x0, y1, x1], path) {
  const near = { top: y0 < MARGIN, left: x0 < MARGIN, bottom: y1 > COORD_MAX - MARGIN, right: x1 > COORD_MAX - MARGIN };
  const edges = Object.keys(near).filter((k) => near[k]);
  if (!edges.length) return [];
  return [
    warning(
      `${path}.bbox`,
      `text box reaches into the 5% safe margin (${edges.join(", ")})`,
      `keep text at least ${MARGIN} units from the canvas edges`,
    ),
  ];
}

/** Designer warnings for `caption` rendered at width × height pixels (none for unusable input). */
export function lintCaption(caption, width, height) {
  const elements = isObject(caption) && isObject(caption.compositional_deconstruction)
    ? caption.compositional_deconstruction.elements
    : null;
  if (!Array.isArray(elements)) return [];
  const texts = elements.flatMap((e, i) => (isObject(e) && e.type === "text" && boxOf(e) ? [[i, e, boxOf(e)]] : []));
  const background = paletteHead(caption.style_description);
  return texts.flatMap(([i, element, box], n) => {
    const path = `${ELEMENTS}[${i}]`;
    return [
      ...smallText(element, box, path, width, height),
      ...texts
        .slice(0, n)
        .filter(([, , other]) => overlaps(box, other))
        .map(([j]) =>
          warning(
            `${path}.bbox`,
            `text box overlaps the text box of element ${j + 1}`,
            "move the boxes apart, or merge the texts into one element",
          ),
        ),
      ...contrast(element, background, path),
      ...margin(box, path),
    ];
  });
}
