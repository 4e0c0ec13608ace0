// "Magic Prompt": turn a one-line idea (and optionally the current caption) into a full caption on the
// server (POST MAGIC_ROUTE), then load it into the editor as one undoable step.
// Request {idea, width, height, seed, caption: str|null}; 200 {caption: str}; 4xx {error: str}.

import { MAGIC_ROUTE } from "./constants.mjs";
import { captionText } from "./document.mjs";
import { h } from "./dom.mjs";
import { fromCaption } from "./model.mjs";
import { forgivingParse } from "./repair.mjs";

/** Why a reply (status + parsed JSON body or null) is not a caption, or null when it is one. */
function failure(res, body) {
  if (res.ok) return typeof body?.caption === "string" ? null : "the server's reply holds no caption";
  return typeof body?.error === "string" && body.error ? body.error : `${MAGIC_ROUTE}: HTTP ${res.status}`;
}

/**
 * The Magic Prompt bar. post(route, body) → Promise<Response> sends JSON (ComfyUI's api.fetchApi, or
 * fetch). Returns {el, toggle()}.
 */
export function magicPromptBar(ctx, post) {
  const idea = h("textarea.ig4-input.ig4-magic-idea", {
    rows: 2,
    placeholder: "Your idea in a sentence, e.g. “a retro poster for a jazz night in Lisbon”",
    "aria-label": "Magic Prompt idea",
  });
  const seed = h("input.ig4-input.ig4-num", { type: "number", min: 0, value: "0", "aria-label": "Seed", title: "Seed" });
  const refine = h("input", { type: "checkbox", "aria-label": "Start from the current caption" });
  const status = h("span.ig4-magic-status", { role: "status" });
  const go = h("button.ig4-btn.ig4-primary", { type: "button", textContent: "Write caption" });
  const el = h(
    "div.ig4-magic",
    { hidden: true, role: "group", "aria-label": "Magic Prompt" },
    idea,
    h(
      "div.ig4-row",
      {},
      h("label.ig4-mini", {}, h("span", { textContent: "Seed" }), seed),
      h("label.ig4-check", {}, refine, h("span", { textContent: "Start from the current caption" })),
      h("span.ig4-spacer"),
      status,
      go,
    ),
  );

  async function run() {
    if (!idea.value.trim()) {
      status.textContent = "Write an idea first.";
      status.className = "ig4-magic-status error";
      return;
    }
    go.disabled = true;
    status.className = "ig4-magic-status";
    status.textContent = "Writing…";
    const body = {
      idea: idea.value.trim(),
      width: ctx.size.width,
      height: ctx.size.height,
      seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
      caption: refine.checked ? captionText(ctx.store.state) : null,
    };
    let problem;
    let caption = null;
    try {
      const res = await post(MAGIC_ROUTE, body);
      const reply = await res.json().catch(() => null);
      problem = failure(res, reply);
      if (!problem) caption = forgivingParse(reply.caption).caption;
      if (!problem && !caption) problem = "the server's caption is not readable JSON";
    } catch (err) {
      problem = `${MAGIC_ROUTE}: ${err.message}`;
    }
    go.disabled = false;
    if (problem) {
      status.textContent = problem;
      status.className = "ig4-magic-status error";
      return;
    }
    ctx.selection.set([]);
    ctx.store.reset(fromCaption(caption), { keepHistory: true });
    status.textContent = "Caption loaded — Ctrl+Z undoes it.";
  }

  go.addEventListener("click", run);
  idea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run();
  });
  const toggle = () => {
    el.hidden = !el.hidden;
    refine.checked = ctx.store.state.elements.length > 0;
    if (!el.hidden) idea.focus();
  };
  return { el, toggle };
}
