// Copy, cut and paste of elements as caption JSON ({"compositional_deconstruction": {"elements": [...]}}),
// through the system clipboard so that another builder node (or a text editor) can take them. A copy is
// also kept in this page, for when the browser denies clipboard access.

import * as cmd from "./commands.mjs";
import { clampDelta, toRect } from "./geometry.mjs";
import { emptyState, fromCaption, toCaption } from "./model.mjs";
import { forgivingParse } from "./repair.mjs";

const PASTE_OFFSET = 20;
let pageCopy = "";

/** Caption JSON holding the selected elements (list order). */
export function selectionText(ctx) {
  const elements = ctx.store.state.elements.filter((e) => ctx.selection.has(e.id));
  const caption = toCaption({ ...emptyState(), elements });
  return JSON.stringify({ compositional_deconstruction: { elements: caption.compositional_deconstruction.elements } });
}

async function writeClipboard(text) {
  pageCopy = text;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission: the page copy still serves this page's builders.
  }
}

async function readClipboard() {
  try {
    return (await navigator.clipboard.readText()) || pageCopy;
  } catch {
    return pageCopy;
  }
}

/** Copy the selection; resolves to the caption text copied ("" when nothing is selected). */
export async function copySelected(ctx) {
  if (!ctx.selection.ids.length) return "";
  const text = selectionText(ctx);
  await writeClipboard(text);
  return text;
}

export async function cutSelected(ctx) {
  const text = await copySelected(ctx);
  if (text) cmd.deleteSelected(ctx);
  return text;
}

/** The elements in pasted text: a caption, its compositional_deconstruction, an element list or one element. */
function elementsOf(value) {
  const list = Array.isArray(value)
    ? value
    : (value?.compositional_deconstruction?.elements ?? value?.elements ?? (value?.type ? [value] : null));
  return Array.isArray(list) ? fromCaption({ compositional_deconstruction: { elements: list } }).elements : null;
}

/**
 * Add the elements in caption `text` on top of the current ones and select them; boxes that would land
 * exactly on an existing box are offset. Returns {count, error}.
 */
export function pasteText(ctx, text) {
  const parsed = forgivingParse(text);
  const elements = parsed.caption ? elementsOf(parsed.caption) : null;
  if (!elements?.length) return { count: 0, error: parsed.error ?? "the clipboard holds no caption elements" };
  const taken = new Set(ctx.store.state.elements.map((e) => e.bbox?.join()));
  for (const el of elements) {
    if (!el.bbox || !taken.has(el.bbox.join())) continue;
    const { dx, dy } = clampDelta(toRect(el.bbox), PASTE_OFFSET, PASTE_OFFSET);
    el.bbox = [el.bbox[0] + dy, el.bbox[1] + dx, el.bbox[2] + dy, el.bbox[3] + dx];
  }
  ctx.store.update((s) => s.elements.push(...elements));
  ctx.selection.set(elements.map((e) => e.id));
  return { count: elements.length, error: null };
}

/** Paste from the system clipboard (or this page's last copy). */
export async function paste(ctx) {
  return pasteText(ctx, await readClipboard());
}
