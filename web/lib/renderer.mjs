// Draws the canvas: background, underlay, grid, boxes (preview or wireframe) with labels, selection
// handles, snap guides, draft box.

import { COORD_MAX } from "./constants.mjs";
import { HANDLES, handlePoint, toRect } from "./geometry.mjs";
import { backgroundColorOf, paintElementPreview } from "./preview.mjs";

const HUES = [205, 28, 140, 280, 350, 48, 175, 320, 95, 250];
const ACCENT = "#4ea1ff";
const GUIDE = "#ff4fd8";
const ERROR = "#ff5c5c";
const LABEL_FONT = "500 11px Inter, system-ui, sans-serif";

const hues = new Map();

/** Hue of an element: assigned round-robin the first time an id is seen, then stable. */
export function hueOf(id) {
  if (!hues.has(id)) hues.set(id, HUES[hues.size % HUES.length]);
  return hues.get(id);
}

function drawGrid(g, w, hgt, grid) {
  g.lineWidth = 1;
  g.strokeStyle = "rgba(255,255,255,0.06)";
  g.beginPath();
  for (let v = grid; v < COORD_MAX; v += grid) {
    const x = Math.round((v / COORD_MAX) * w) + 0.5;
    const y = Math.round((v / COORD_MAX) * hgt) + 0.5;
    g.moveTo(x, 0);
    g.lineTo(x, hgt);
    g.moveTo(0, y);
    g.lineTo(w, y);
  }
  g.stroke();
}

function drawCentreMarks(g, w, hgt) {
  g.strokeStyle = "rgba(255,255,255,0.12)";
  g.lineWidth = 1;
  g.setLineDash([2, 4]);
  g.beginPath();
  g.moveTo(Math.round(w / 2) + 0.5, 0);
  g.lineTo(Math.round(w / 2) + 0.5, hgt);
  g.moveTo(0, Math.round(hgt / 2) + 0.5);
  g.lineTo(w, Math.round(hgt / 2) + 0.5);
  g.stroke();
  g.setLineDash([]);
}

function ellipsize(g, text, maxWidth) {
  if (g.measureText(text).width <= maxWidth) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (g.measureText(`${text.slice(0, mid)}…`).width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo ? `${text.slice(0, lo)}…` : "";
}

function drawLiteralText(g, el, px) {
  const text = el.text.trim();
  if (!text) return;
  const font = (size) => `600 ${size}px Inter, system-ui, sans-serif`;
  let size = Math.min(px.h * 0.6, 72);
  g.font = font(size);
  size = Math.max(8, Math.min(size, (size * (px.w - 12)) / g.measureText(text).width));
  g.font = font(size);
  g.fillStyle = el.palette[0] ?? "rgba(255,255,255,0.85)";
  g.globalAlpha = 0.9;
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(ellipsize(g, text, px.w - 8), px.x + px.w / 2, px.y + px.h / 2);
  g.globalAlpha = 1;
  g.textAlign = "left";
  g.textBaseline = "alphabetic";
}

function drawLabel(g, el, index, px, hue, selected, tagOnly = false) {
  g.font = LABEL_FONT;
  const tag = `${index + 1}`;
  const kind = el.type === "text" ? "T" : "◼";
  const body = el.desc.trim() || (el.type === "text" ? el.text : "") || "no description";
  const tagW = g.measureText(tag).width + 10;
  const maxW = Math.max(0, px.w - tagW - 22);
  const label = `${kind} ${ellipsize(g, body, maxW)}`;
  const labelW = Math.min(px.w - tagW, g.measureText(label).width + 10);
  const y = px.y >= 19 ? px.y - 19 : px.y + 3; // above the box when there is room, else inside

  g.fillStyle = `hsla(${hue}, 70%, ${selected ? 58 : 48}%, 0.95)`;
  g.beginPath();
  g.roundRect(px.x, y, tagW, 16, 3);
  g.fill();
  g.fillStyle = "#0d0d10";
  g.fillText(tag, px.x + 5, y + 12);
  if (labelW > 16 && !tagOnly) {
    g.fillStyle = "rgba(12,12,16,0.78)";
    g.beginPath();
    g.roundRect(px.x + 2 + tagW, y, labelW, 16, 3);
    g.fill();
    g.fillStyle = "#e8e8ee";
    g.fillText(label, px.x + 7 + tagW, y + 12);
  }
}

function drawPaletteDots(g, el, px) {
  el.palette.forEach((c, i) => {
    const x = px.x + px.w - 9 - i * 11;
    if (x < px.x + 4) return;
    g.fillStyle = c;
    g.strokeStyle = "rgba(0,0,0,0.6)";
    g.beginPath();
    g.arc(x, px.y + px.h - 9, 4.5, 0, Math.PI * 2);
    g.fill();
    g.stroke();
  });
}

/** Preview mode: the element as it will read, a faint outline and its number (full label on focus). */
function drawPreviewBox(g, el, index, view, toPx) {
  const px = toPx(toRect(el.bbox));
  const hue = hueOf(el.id);
  const selected = view.selectedIds.includes(el.id);
  const hovered = view.hoverId === el.id;
  paintElementPreview(g, el, px, view.background);
  g.lineWidth = selected ? 2 : 1;
  g.strokeStyle = selected || hovered ? `hsl(${hue}, 90%, 65%)` : `hsla(${hue}, 70%, 60%, 0.45)`;
  g.setLineDash(selected ? [] : [4, 4]);
  g.strokeRect(px.x + 0.5, px.y + 0.5, px.w - 1, px.h - 1);
  g.setLineDash([]);
  drawLabel(g, el, index, px, hue, selected, !(selected || hovered));
  drawErrorDot(g, el, px, view);
}

function drawErrorDot(g, el, px, view) {
  if (!view.errorIds.has(el.id)) return;
  g.fillStyle = ERROR;
  g.beginPath();
  g.arc(px.x + px.w - 6, px.y + 6, 4, 0, Math.PI * 2);
  g.fill();
}

function drawBox(g, el, index, view, toPx) {
  const px = toPx(toRect(el.bbox));
  const hue = hueOf(el.id);
  const selected = view.selectedIds.includes(el.id);
  const hovered = view.hoverId === el.id;
  g.fillStyle = `hsla(${hue}, 80%, 60%, ${selected ? 0.2 : hovered ? 0.15 : 0.1})`;
  g.fillRect(px.x, px.y, px.w, px.h);
  if (el.type === "text") drawLiteralText(g, el, px);
  g.lineWidth = selected ? 2 : 1.25;
  g.strokeStyle = selected ? `hsl(${hue}, 90%, 70%)` : `hsla(${hue}, 80%, 62%, 0.9)`;
  g.setLineDash(el.type === "text" ? [6, 4] : []);
  g.strokeRect(px.x + 0.5, px.y + 0.5, px.w - 1, px.h - 1);
  g.setLineDash([]);
  if (view.showLabels || selected || hovered) drawLabel(g, el, index, px, hue, selected);
  drawPaletteDots(g, el, px);
  drawErrorDot(g, el, px, view);
}

function drawHandles(g, rect, toPt) {
  for (const handle of HANDLES) {
    const p = toPt(handlePoint(rect, handle));
    g.fillStyle = "#fff";
    g.strokeStyle = ACCENT;
    g.lineWidth = 1.5;
    g.beginPath();
    g.roundRect(p.x - 4, p.y - 4, 8, 8, 2);
    g.fill();
    g.stroke();
  }
}

function drawGuides(g, guides, w, hgt) {
  g.strokeStyle = GUIDE;
  g.lineWidth = 1;
  g.setLineDash([4, 3]);
  g.beginPath();
  for (const guide of guides) {
    if (guide.axis === "x") {
      const x = Math.round((guide.v / COORD_MAX) * w) + 0.5;
      g.moveTo(x, 0);
      g.lineTo(x, hgt);
    } else {
      const y = Math.round((guide.v / COORD_MAX) * hgt) + 0.5;
      g.moveTo(0, y);
      g.lineTo(w, y);
    }
  }
  g.stroke();
  g.setLineDash([]);
}

function drawEmptyHint(g, w, hgt) {
  g.font = "500 13px Inter, system-ui, sans-serif";
  g.fillStyle = "rgba(255,255,255,0.35)";
  g.textAlign = "center";
  g.fillText("Drag to draw a box", w / 2, hgt / 2 - 8);
  g.font = "400 11px Inter, system-ui, sans-serif";
  g.fillStyle = "rgba(255,255,255,0.22)";
  g.fillText("or paste a caption in the Caption tab", w / 2, hgt / 2 + 12);
  g.textAlign = "left";
}

/**
 * Draw the scene. view: {w, h (CSS px), state, selectedIds, hoverId, guides, draft (rect|null),
 * underlay (image|null), underlayFrame (units rect|null), opacity, grid, showLabels, wireframe, errorIds: Set}.
 */
export function drawScene(g, view) {
  const { w, h: hgt } = view;
  const toPt = (p) => ({ x: (p.x / COORD_MAX) * w, y: (p.y / COORD_MAX) * hgt });
  const toPx = (r) => {
    const a = toPt({ x: r.x0, y: r.y0 });
    const b = toPt({ x: r.x1, y: r.y1 });
    return { x: a.x, y: a.y, w: Math.max(1, b.x - a.x), h: Math.max(1, b.y - a.y) };
  };
  g.clearRect(0, 0, w, hgt);
  const background = view.wireframe ? "#141418" : backgroundColorOf(view.state);
  g.fillStyle = background;
  g.fillRect(0, 0, w, hgt);
  if (view.underlay && view.opacity > 0) {
    g.globalAlpha = view.opacity;
    const f = view.underlayFrame ? toPx(view.underlayFrame) : { x: 0, y: 0, w, h: hgt };
    g.drawImage(view.underlay, f.x, f.y, f.w, f.h);
    g.globalAlpha = 1;
  }
  if (view.grid) drawGrid(g, w, hgt, view.grid);
  drawCentreMarks(g, w, hgt);
  if (!view.draft && !view.state.elements.some((el) => el.bbox)) drawEmptyHint(g, w, hgt);
  const paint = view.wireframe ? drawBox : drawPreviewBox;
  const scene = { ...view, background };
  view.state.elements.forEach((el, i) => {
    if (el.bbox && !el.hidden) paint(g, el, i, scene, toPx);
  });
  const single = view.selectedIds.length === 1 && view.state.elements.find((e) => e.id === view.selectedIds[0]);
  if (single?.bbox && !single.hidden && !single.locked) drawHandles(g, toRect(single.bbox), toPt);
  if (view.draft) {
    const px = toPx(view.draft);
    g.strokeStyle = ACCENT;
    g.lineWidth = 1.5;
    g.setLineDash([5, 4]);
    g.fillStyle = "rgba(78,161,255,0.12)";
    g.fillRect(px.x, px.y, px.w, px.h);
    g.strokeRect(px.x + 0.5, px.y + 0.5, px.w - 1, px.h - 1);
    g.setLineDash([]);
  }
  drawGuides(g, view.guides, w, hgt);
}
