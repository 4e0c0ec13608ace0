// Shared editor context: the store, the selection, view preferences and a small event hub.

import { Store } from "./store.mjs";

export const DEFAULT_PREFS = {
  snapObjects: true,
  grid: 0,
  opacity: 0.5,
  newType: "obj",
  showLabels: true,
  wireframe: false,
  tool: "draw",
  aspectLock: false,
  remap: "keep",
};

export class Hub {
  #handlers = new Map();
  on(event, fn) {
    if (!this.#handlers.has(event)) this.#handlers.set(event, new Set());
    this.#handlers.get(event).add(fn);
    return () => this.#handlers.get(event).delete(fn);
  }
  emit(event, detail) {
    for (const fn of this.#handlers.get(event) ?? []) fn(detail);
  }
}

/** Selected element ids; the last one is the primary (shown in the inspector). */
export class Selection {
  #ids = [];
  constructor(hub) {
    this.hub = hub;
  }
  get ids() {
    return this.#ids;
  }
  get primary() {
    return this.#ids.at(-1) ?? null;
  }
  set(ids) {
    const next = [...new Set(ids)];
    if (next.join() === this.#ids.join()) return;
    this.#ids = next;
    this.hub.emit("selection", next);
  }
  toggle(id) {
    this.set(this.#ids.includes(id) ? this.#ids.filter((x) => x !== id) : [...this.#ids, id]);
  }
  has(id) {
    return this.#ids.includes(id);
  }
  /** Drop ids that no longer exist. */
  prune(state) {
    const live = new Set(state.elements.map((e) => e.id));
    if (this.#ids.some((id) => !live.has(id))) this.set(this.#ids.filter((id) => live.has(id)));
  }
}

export function createContext(state, prefs) {
  const hub = new Hub();
  const ctx = {
    hub,
    store: new Store(state),
    selection: new Selection(hub),
    prefs: { ...DEFAULT_PREFS, ...prefs },
    aspect: 1,
    size: { width: 1024, height: 1024 }, // target image size in pixels
    underlay: null,
    underlayFrame: null, // where the underlay is drawn (units) after a "keep shapes" remap; null = whole canvas
    errorIds: new Set(),
    report: { valid: true, problems: [], tokens: null, exact: false, source: "local" },
    /** Change view preferences; silent = loaded with the document, so not an edit to save. */
    setPrefs(patch, { silent = false } = {}) {
      Object.assign(ctx.prefs, patch);
      hub.emit("prefs", { silent });
    },
  };
  ctx.store.subscribe((s, meta) => {
    ctx.selection.prune(s);
    hub.emit("state", meta);
  });
  return ctx;
}
