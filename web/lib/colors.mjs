// Colour helpers: parsing user input into #RRGGBB and picking readable contrasts.

const HEX6 = /^#?([0-9a-f]{6})$/i;
const HEX3 = /^#?([0-9a-f]{3})$/i;
const RGB = /^rgba?\(\s*(\d{1,3})\s*[, ]\s*(\d{1,3})\s*[, ]\s*(\d{1,3})/i;

/** Parse "#abc", "abc123", "#A1B2C3" or "rgb(1,2,3)" into "#RRGGBB"; null when it is not a colour. */
export function parseColor(input) {
  const s = String(input ?? "").trim();
  let m = s.match(HEX6);
  if (m) return `#${m[1].toUpperCase()}`;
  m = s.match(HEX3);
  if (m)
    return `#${[...m[1]]
      .map((c) => c + c)
      .join("")
      .toUpperCase()}`;
  m = s.match(RGB);
  if (m) {
    const hex = m.slice(1, 4).map((n) => Math.min(255, Number(n)).toString(16).padStart(2, "0"));
    return `#${hex.join("").toUpperCase()}`;
  }
  return null;
}

/** All colours found in a pasted string ("#FFF, #000000 rgb(1,2,3)"). */
export function parseColorList(input) {
  const tokens = String(input ?? "").match(/rgba?\([^)]*\)|#?[0-9a-f]{6}\b|#[0-9a-f]{3}\b/gi) ?? [];
  return tokens.map(parseColor).filter(Boolean);
}

function luminance(hex) {
  const n = Number.parseInt(hex.slice(1), 16);
  return (0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255)) / 255;
}

/** Black or white text for a swatch background. */
export const inkOn = (hex) => (luminance(hex) > 0.6 ? "#111" : "#fff");
