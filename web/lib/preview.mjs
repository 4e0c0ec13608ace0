// Preview painting: the layout drawn the way the poster will read. The background takes a colour named in
// the background description (else the style palette's first colour); objects are filled with their first
// palette colour and outlined in the second; literal text is wrapped and fitted to its box, in its first
// palette colour (else whichever of black/white reads on the background), in a family guessed from the
// element's description.

import { inkOn } from "./colors.mjs";

const COLOR_WORDS = {
  black: "#111111",
  white: "#F5F5F2",
  cream: "#F3E9D2",
  ivory: "#F6F1E1",
  beige: "#D9C7A7",
  grey: "#8A8A8F",
  gray: "#8A8A8F",
  silver: "#C0C0C8",
  red: "#C8312B",
  crimson: "#A51C30",
  orange: "#E8772E",
  amber: "#F2A900",
  gold: "#D4A537",
  golden: "#D4A537",
  yellow: "#F2D43D",
  green: "#2F8F4E",
  olive: "#6B7A2F",
  teal: "#1F7A7A",
  turquoise: "#2EB8B0",
  cyan: "#35B8D6",
  blue: "#2F5FBF",
  navy: "#14264F",
  purple: "#6A3FA0",
  violet: "#7F4FC9",
  pink: "#E57BA8",
  magenta: "#C0307F",
  brown: "#6B4B3E",
  tan: "#C8A27A",
};
const COLOR_WORD = new RegExp(`\\b(${Object.keys(COLOR_WORDS).join("|")})\\b`, "i");
export const DEFAULT_BACKGROUND = "#26262C";

const FAMILIES = [
  [/\b(mono|monospace|typewriter|code|terminal|pixel)/i, '"DejaVu Sans Mono", Menlo, Consolas, monospace'],
  [/\b(script|handwrit|hand-lettered|calligraph|cursive|brush|signature)/i, '"Brush Script MT", "URW Chancery L", cursive'],
  [/\b(serif|didone|roman|garamond|times|slab|engraved|blackletter)/i, 'Georgia, "DejaVu Serif", "Times New Roman", serif'],
];
const SANS = 'Inter, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif';
const SANS_SERIF = /\bsans[- ]?serif\b/i;

/** CSS font family for a text element, guessed from its description (serif/sans/script/mono). */
export function fontFamilyOf(desc) {
  const text = String(desc ?? "");
  if (SANS_SERIF.test(text)) return FAMILIES.slice(0, 2).find(([re]) => re.test(text))?.[1] ?? SANS;
  return FAMILIES.find(([re]) => re.test(text))?.[1] ?? SANS;
}

/** Font weight guessed from the description. */
const weightOf = (desc) =>
  /\b(bold|heavy|black|condensed|headline|poster)\b/i.test(desc) ? 700 : /\b(light|thin)\b/i.test(desc) ? 300 : 500;

/** The background colour of the preview. */
export function backgroundColorOf(state) {
  const m = String(state.background ?? "").match(COLOR_WORD);
  if (m) return COLOR_WORDS[m[1].toLowerCase()];
  return state.style?.palette?.[0] ?? DEFAULT_BACKGROUND;
}

/** Lines of `text` wrapped to `maxWidth` with the current font (long words are kept whole). */
function wrap(g, text, maxWidth) {
  const lines = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      const next = line ? `${line} ${word}` : word;
      if (line && g.measureText(next).width > maxWidth) {
        lines.push(line);
        line = word;
      } else line = next;
    }
    lines.push(line);
  }
  return lines;
}

const LINE_HEIGHT = 1.15;

/**
 * The largest font size (px) at which `text` wrapped to the box fits it, and its lines: binary search
 * over the size, each try wrapping with measureText.
 */
export function fitText(g, text, font, w, h) {
  let lo = 4;
  let hi = Math.max(4, Math.min(h, 400));
  let best = null;
  for (let i = 0; i < 12 && lo <= hi; i++) {
    const size = (lo + hi) / 2;
    g.font = font(size);
    const lines = wrap(g, text, w);
    const fits = lines.length * size * LINE_HEIGHT <= h && lines.every((l) => g.measureText(l).width <= w);
    if (fits) {
      best = { size, lines };
      lo = size + 0.5;
    } else hi = size - 0.5;
  }
  if (best) return best;
  g.font = font(lo);
  return { size: lo, lines: wrap(g, text, w) };
}

// Fitted text per element object (states share unchanged elements, so a repaint re-fits only what changed).
const FITS = new WeakMap();

function fitted(g, el, text, font, w, h) {
  const key = `${w}|${h}|${font(1)}`;
  const hit = FITS.get(el);
  if (hit?.key === key) return hit.fit;
  const fit = fitText(g, text, font, w, h);
  FITS.set(el, { key, fit });
  return fit;
}

/** Paint one element's preview: fill/outline for objects, fitted literal text for text elements. */
export function paintElementPreview(g, el, px, background) {
  const [fill, accent] = el.palette;
  if (el.type !== "text") {
    if (fill) {
      g.fillStyle = fill;
      g.globalAlpha = 0.9;
      g.fillRect(px.x, px.y, px.w, px.h);
      g.globalAlpha = 1;
    }
    if (accent) {
      g.strokeStyle = accent;
      g.lineWidth = Math.max(2, Math.min(px.w, px.h) * 0.04);
      g.strokeRect(px.x + g.lineWidth / 2, px.y + g.lineWidth / 2, px.w - g.lineWidth, px.h - g.lineWidth);
    }
    return;
  }
  const text = el.text.trim();
  if (!text) return;
  const family = fontFamilyOf(el.desc);
  const weight = weightOf(el.desc);
  const font = (size) => `${weight} ${size}px ${family}`;
  const pad = Math.min(px.w, px.h) * 0.04;
  const { size, lines } = fitted(g, el, text, font, px.w - 2 * pad, px.h - 2 * pad);
  g.font = font(size);
  g.fillStyle = fill ?? inkOn(background);
  g.textAlign = "center";
  g.textBaseline = "middle";
  const lineH = size * LINE_HEIGHT;
  const top = px.y + px.h / 2 - ((lines.length - 1) * lineH) / 2;
  lines.forEach((line, i) => g.fillText(line, px.x + px.w / 2, top + i * lineH));
  g.textAlign = "left";
  g.textBaseline = "alphabetic";
}
