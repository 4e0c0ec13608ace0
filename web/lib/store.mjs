// State container with undo/redo. Every change is a new state object; history keeps snapshots.
// Transient changes (a drag in progress) are shown but not recorded until commit().

import { cloneState } from "./model.mjs";

const HISTORY_LIMIT = 200;
const COALESCE_MS = 800;

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

  /** listener(state, {transient, reason}) after every change. Returns an unsubscribe function. */
  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(meta) {
    for (const listener of this.#listeners) listener(this.#state, meta);
  }

  #record(base, key) {
    const now = Date.now();
    const coalesce = key && key === this.#lastKey && now - this.#lastTime < COALESCE_MS;
    if (!coalesce) {
      this.#undo.push(base);
      if (this.#undo.length > HISTORY_LIMIT) this.#undo.shift();
    }
    this.#redo = [];
    this.#lastKey = key;
    this.#lastTime = now;
  }

  /**
   * Apply `mutate(draft)` to a copy of the state. Options: transient (do not record yet),
   * key (consecutive changes with the same key within a moment form one undo step, e.g. typing).
   */
  update(mutate, { transient = false, key = null } = {}) {
    const base = this.#pendingBase ?? this.#state;
    const draft = cloneState(this.#state);
    mutate(draft);
    if (transient) this.#pendingBase = base;
    else {
      this.#pendingBase = null;
      this.#record(base, key);
    }
    this.#state = draft;
    this.#emit({ transient, reason: "edit" });
  }

  /** Record the transient changes made since the last commit as one undo step. */
  commit() {
    if (!this.#pendingBase) return;
    this.#record(this.#pendingBase, null);
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
    if (keepHistory) this.#record(this.#state, null);
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
    this.#step(this.#undo, this.#redo);
  }

  redo() {
    this.#step(this.#redo, this.#undo);
  }

  #step(from, to) {
    this.commit();
    if (!from.length) return;
    to.push(this.#state);
    this.#state = from.pop();
    this.#lastKey = null;
    this.#emit({ transient: false, reason: "history" });
  }
}
