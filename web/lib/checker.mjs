// Live validation: an instant local verdict (JS verifier + token estimate) on every change, then,
// when a backend is available, the authoritative engine verdict with the exact token count. Designer lint
// warnings (lint.mjs, computed here at the target size) go beside either verdict. The check runs when the
// browser is idle after a change (at most IDLE_TIMEOUT_MS later), so typing never waits for it.

import { captionText } from "./document.mjs";
import { lintCaption } from "./lint.mjs";
import { toCaption } from "./model.mjs";
import { estimateCaptionTokens } from "./tokens.mjs";
import { validateCaption } from "./validator.mjs";

const ENGINE_DELAY_MS = 350;
const IDLE_TIMEOUT_MS = 150;
const ELEMENT_PATH = /^compositional_deconstruction\.elements\[(\d+)\]/;

/** Element ids that have at least one error. */
function errorIdsOf(problems, state) {
  const ids = new Set();
  for (const p of problems) {
    const m = p.severity === "error" && p.path.match(ELEMENT_PATH);
    const el = m && state.elements[Number(m[1])];
    if (el) ids.add(el.id);
  }
  return ids;
}

/** Counts of a report's problems: {errors, warnings}. */
export function tally(report) {
  const errors = report.problems.filter((p) => p.severity === "error").length;
  return { errors, warnings: report.problems.length - errors };
}

/** "1 error", "2 warnings". */
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Start checking; backend is {check(text) → Promise<result>} or null. */
export function startChecker(ctx, backend) {
  let timer = 0;
  let seq = 0;

  let lints = [];
  const publish = (report) => {
    report = { ...report, problems: [...report.problems.filter((p) => !lints.includes(p)), ...lints] };
    ctx.report = report;
    ctx.errorIds = errorIdsOf(report.problems, ctx.store.state);
    ctx.hub.emit("report", report);
  };

  async function askEngine(text, mySeq) {
    try {
      const r = await backend.check(text);
      if (mySeq !== seq) return;
      publish({
        valid: r.valid,
        problems: r.problems ?? [],
        tokens: r.tokens?.count ?? null,
        exact: Boolean(r.tokens?.exact),
        source: "engine",
      });
    } catch {
      if (mySeq === seq) publish({ ...ctx.report, source: "offline" });
    }
  }

  function check() {
    const text = captionText(ctx.store.state);
    const tokens = estimateCaptionTokens(text);
    const local = validateCaption(text, { tokenCount: tokens });
    lints = lintCaption(toCaption(ctx.store.state), ctx.size.width, ctx.size.height);
    const mySeq = ++seq;
    publish({
      valid: local.valid,
      problems: local.problems,
      tokens,
      exact: false,
      source: backend ? "pending" : "local",
    });
    clearTimeout(timer);
    if (backend) timer = setTimeout(() => askEngine(text, mySeq), ENGINE_DELAY_MS);
  }

  let idle = 0;
  const schedule = () => {
    cancelIdleCallback(idle);
    idle = requestIdleCallback(check, { timeout: IDLE_TIMEOUT_MS });
  };
  ctx.hub.on("state", (meta) => meta.transient || schedule());
  ctx.hub.on("size", schedule);
  check();
  return () => {
    clearTimeout(timer);
    cancelIdleCallback(idle);
  };
}
