// State container with undo/redo. States are immutable and structurally shared: an edit copies the root,
// the style and the elements array, and keeps every element it did not change. History stores patches
// (the changed top-level fields and the changed elements, before and after), not snapshots.
// Transient changes (a drag in progress) are shown but not recorded until commit().

const HISTORY_LIMIT = 200;
const COALESCE_MS = 800;

const shallowEqual = (a, b) => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
};

/** A writable copy of `state` for a mutator: fresh root, style, elements array and element objects. */
function draftOf(state) {
  return { ...state, style: { ...state.style }, elements: state.elements.map((e) => ({ ...e })) };
}

/** Give back the base's objects wherever the draft did not change them (keeps sharing). */
function settle(base, draft) {
  if (shallowEqual(draft.style, base.style)) draft.style = base.style;
  const old = new Map(base.elements.map((e) => [e.id, e]));
  draft.elements = draft.elements.map((e) => {
    const prev = old.get(e.id);
    return prev && shallowEqual(e, prev) ? prev : e;
  });
  if (draft.elements.length === base.elements.length && draft.elements.every((e, i) => e === base.elements[i]))
    draft.elements = base.elements;
  return draft;
}

/**
 * The patch from `a` to `b`: {fields: {key: [before, after]}, items: [[index, before, after]] | null,
 * list: [before, after] | null}. Same-length element lists record only the changed items.
 */
function diff(a, b) {
  const fields = {};
  for (const key of Object.keys(b)) if (key !== "elements" && a[key] !== b[key]) fields[key] = [a[key], b[key]];
  let items = null;
  let list = null;
  if (a.elements !== b.elements) {
    if (a.elements.length === b.elements.length)
      items = b.elements.flatMap((e, i) => (e === a.elements[i] ? [] : [[i, a.elements[i], e]]));
    else list = [a.elements, b.elements];
  }
  return { fields, items, list };
}

/** Apply a patch forwards (side 1) or backwards (side 0). */
function apply(state, patch, side) {
  const next = { ...state };
  for (const [key, pair] of Object.entries(patch.fields)) next[key] = pair[side];
  if (patch.list) next.elements = patch.list[side];
  else if (patch.items?.length) {
    next.elements = [...state.elements];
    for (const item of patch.items) next.elements[item[0]] = item[1 + side];
  }
  return next;
}

const isEmpty = (patch) => !Object.keys(patch.fields).length && !patch.items?.length && !patch.list;

export class Store {
  #state;
  #undo = [];
  #redo = [];
  #listeners = new Set();
  #pendingBase = null; // state before the transient changes in progress
  #lastKey = null;
  #lastTime = 0;

  constructor(state) {
    this.#state = state;
  }

  get state() {
    return this.#state;
  }

  /** The undo history (patches), e.g. to measure its size. */
  get history() {
    return this.#undo;
  }

  /** listener(state, {transient, reason}) after every change. Returns an unsubscribe function. */
  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(meta) {
    for (const listener of this.#listeners) listener(this.#state, meta);
  }

  #record(base, next, key) {
    const now = Date.now();
    const coalesce = key && key === this.#lastKey && now - this.#lastTime < COALESCE_MS && this.#undo.length;
    if (coalesce) {
      const first = this.#undo.pop();
      const merged = diff(apply(next, first, 0), next);
      if (!isEmpty(merged)) this.#undo.push(merged);
    } else {
      const patch = diff(base, next);
      if (!isEmpty(patch)) this.#undo.push(patch);
      if (this.#undo.length > HISTORY_LIMIT) this.#undo.shift();
    }
    this.#redo = [];
    this.#lastKey = key;
    this.#lastTime = now;
  }

  /**
   * Apply `mutate(draft)` to a copy of the state (assign new arrays rather than editing bbox/palette
   * arrays in place). Options: transient (do not record yet), key (consecutive changes with the same key
   * within a moment form one undo step, e.g. typing).
   */
  update(mutate, { transient = false, key = null } = {}) {
    const base = this.#pendingBase ?? this.#state;
    const draft = draftOf(this.#state);
    mutate(draft);
    const next = settle(this.#state, draft);
    if (transient) this.#pendingBase = base;
    else {
      this.#pendingBase = null;
      this.#record(base, next, key);
    }
    this.#state = next;
    this.#emit({ transient, reason: "edit" });
  }

  /** Record the transient changes made since the last commit as one undo step. */
  commit() {
    if (!this.#pendingBase) return;
    this.#record(this.#pendingBase, this.#state, null);
    this.#pendingBase = null;
    this.#emit({ transient: false, reason: "edit" });
  }

  /** Throw away transient changes. */
  cancel() {
    if (!this.#pendingBase) return;
    this.#state = this.#pendingBase;
    this.#pendingBase = null;
    this.#emit({ transient: false, reason: "cancel" });
  }

  /** Replace the state from outside (document loaded); clears history unless keepHistory. */
  reset(state, { keepHistory = false } = {}) {
    if (keepHistory) this.#record(this.#state, state, null);
    else {
      this.#undo = [];
      this.#redo = [];
    }
    this.#pendingBase = null;
    this.#state = state;
    this.#emit({ transient: false, reason: keepHistory ? "edit" : "load" });
  }

  get canUndo() {
    return this.#undo.length > 0;
  }

  get canRedo() {
    return this.#redo.length > 0;
  }

  undo() {
    this.#step(this.#undo, this.#redo, 0);
  }

  redo() {
    this.#step(this.#redo, this.#undo, 1);
  }

  #step(from, to, side) {
    this.commit();
    if (!from.length) return;
    const patch = from.pop();
    to.push(patch);
    this.#state = apply(this.#state, patch, side);
    this.#lastKey = null;
    this.#emit({ transient: false, reason: "history" });
  }
}
