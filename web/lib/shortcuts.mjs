// Keyboard shortcuts of the canvas: one table drives both the key handling and the help popover.
// Keys are "Mod" (Ctrl or ⌘), "Shift", "Alt" and a key: a letter or digit matches the physical key
// (e.code), so Alt+letter works on every layout; anything else matches e.key.

import { alignRects, distributeRects, spaceRects } from "./align.mjs";
import * as clip from "./clipboard.mjs";
import * as cmd from "./commands.mjs";
import { h } from "./dom.mjs";

const align = (how) => (ctx) => cmd.arrangeSelected(ctx, (rects) => alignRects(rects, how));
const distribute = (axis) => (ctx) => cmd.arrangeSelected(ctx, (rects) => distributeRects(rects, axis));
const space = (axis) => (ctx) => cmd.arrangeSelected(ctx, (rects) => spaceRects(rects, axis));
const nudge = (dx, dy) => (ctx) => cmd.nudge(ctx, dx, dy);

/** [keys, what it does, action(ctx)]; one keys cell may list several combos separated by " / ". */
export const SHORTCUTS = [
  ["V", "Select tool (drag on empty canvas selects a region)", (ctx) => ctx.setPrefs({ tool: "select" })],
  ["R", "Draw tool (drag draws a box, also over other boxes)", (ctx) => ctx.setPrefs({ tool: "draw" })],
  ["Mod+A", "Select all", cmd.selectAll],
  ["Mod+C", "Copy (caption JSON, pastes into another builder)", clip.copySelected],
  ["Mod+X", "Cut", clip.cutSelected],
  ["Mod+V", "Paste", clip.paste],
  ["Mod+D", "Duplicate", cmd.duplicateSelected],
  ["Delete / Backspace", "Delete", cmd.deleteSelected],
  ["Mod+L", "Lock / unlock", (ctx) => cmd.toggleFlag(ctx, "locked")],
  ["Mod+Shift+H", "Hide / show", (ctx) => cmd.toggleFlag(ctx, "hidden")],
  ["]", "Bring forward", (ctx) => cmd.restack(ctx, 1)],
  ["[", "Send backward", (ctx) => cmd.restack(ctx, -1)],
  ["Alt+A", "Align left", align("left")],
  ["Alt+H", "Align horizontal centres", align("hcenter")],
  ["Alt+D", "Align right", align("right")],
  ["Alt+W", "Align top", align("top")],
  ["Alt+V", "Align vertical middles", align("vmiddle")],
  ["Alt+S", "Align bottom", align("bottom")],
  ["Alt+Shift+H", "Distribute centres horizontally", distribute("x")],
  ["Alt+Shift+V", "Distribute centres vertically", distribute("y")],
  ["Mod+Alt+H", "Equal horizontal spacing", space("x")],
  ["Mod+Alt+V", "Equal vertical spacing", space("y")],
  ["ArrowLeft", "Nudge left (Shift: 10 units)", nudge(-1, 0)],
  ["ArrowRight", "Nudge right", nudge(1, 0)],
  ["ArrowUp", "Nudge up", nudge(0, -1)],
  ["ArrowDown", "Nudge down", nudge(0, 1)],
  ["Shift+ArrowLeft", "Nudge left by 10", nudge(-10, 0)],
  ["Shift+ArrowRight", "Nudge right by 10", nudge(10, 0)],
  ["Shift+ArrowUp", "Nudge up by 10", nudge(0, -10)],
  ["Shift+ArrowDown", "Nudge down by 10", nudge(0, 10)],
];

/** Shown in the help only (handled by the canvas or the editor itself). */
const OTHER_KEYS = [
  ["Mod+Z / Mod+Shift+Z", "Undo / redo"],
  ["Shift + drag", "Draw a square, move along one axis, resize keeping the shape"],
  ["Alt + drag", "No snapping"],
  ["Escape", "Deselect (again: close focus mode)"],
  ["Space + drag", "Pan (focus mode)"],
  ["0 / 1", "Fit / 100 % (focus mode)"],
  ["?", "This help"],
];

function parse(combo) {
  const parts = combo.split("+");
  const key = parts.pop() || "+";
  return { key, mod: parts.includes("Mod"), shift: parts.includes("Shift"), alt: parts.includes("Alt") };
}

const TABLE = SHORTCUTS.flatMap(([keys, , run]) => keys.split(" / ").map((combo) => ({ ...parse(combo), run })));

function keyMatches(e, key) {
  if (/^[A-Z0-9]$/.test(key)) return e.code === (/\d/.test(key) ? `Digit${key}` : `Key${key}`);
  return e.key === key;
}

/** The action bound to keydown `e`, or null. */
export function shortcutFor(e) {
  const mod = e.ctrlKey || e.metaKey;
  const hit = TABLE.find((s) => s.mod === mod && s.shift === e.shiftKey && s.alt === e.altKey && keyMatches(e, s.key));
  return hit?.run ?? null;
}

const pretty = (keys) => keys.replaceAll("Mod", navigator.platform?.startsWith("Mac") ? "⌘" : "Ctrl");

/** The "?" button and its popover listing every shortcut. Returns {el, toggle}. */
export function helpPopover() {
  const rows = [...SHORTCUTS, ...OTHER_KEYS].map(([keys, what]) =>
    h("tr", {}, h("td", {}, h("kbd", { textContent: pretty(keys) })), h("td", { textContent: what })),
  );
  const pop = h(
    "div.ig4-help",
    { role: "dialog", "aria-label": "Keyboard shortcuts", hidden: true, tabIndex: -1 },
    h("h4.ig4-h", { textContent: "Keyboard shortcuts (click the canvas first)" }),
    h("table.ig4-keys", {}, h("tbody", {}, rows)),
  );
  const button = h("button.ig4-btn.ig4-help-btn", {
    type: "button",
    textContent: "?",
    title: "Keyboard shortcuts (?)",
    "aria-label": "Keyboard shortcuts",
    "aria-expanded": "false",
  });
  const toggle = (show = pop.hidden) => {
    pop.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
  };
  button.addEventListener("click", () => toggle());
  const el = h("span.ig4-help-wrap", {}, button, pop);
  el.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || pop.hidden) return;
    e.stopPropagation();
    toggle(false);
    button.focus();
  });
  return { el, toggle };
}
