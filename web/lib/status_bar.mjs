// Bottom bar: verdict, token count (exact from the engine, "≈" estimate offline), selection box.

import { MAX_TOKENS } from "./constants.mjs";
import { plural, tally } from "./checker.mjs";
import { h } from "./dom.mjs";

export function statusBar(ctx, { onVerdictClick }) {
  const verdict = h("button.ig4-pill", { type: "button", title: "Show problems", on: { click: onVerdictClick } });
  const tokens = h("span.ig4-tokens");
  const meter = h("span.ig4-meter", {}, h("span.ig4-meter-fill"));
  const info = h("span.ig4-info");

  function renderReport() {
    const r = ctx.report;
    const { errors, warnings } = tally(r);
    verdict.className = `ig4-pill ${r.valid ? (warnings ? "warn" : "ok") : "bad"}`;
    verdict.textContent = r.valid
      ? warnings
        ? `✓ Valid · ${plural(warnings, "warning")}`
        : "✓ Valid"
      : `✕ ${plural(errors, "error")}`;
    const count = r.tokens ?? 0;
    tokens.textContent = `${r.exact ? "" : "≈ "}${count} / ${MAX_TOKENS} tokens`;
    tokens.title = r.exact
      ? "Exact count (Qwen tokenizer, from the engine)"
      : "Estimate — the exact count needs the ComfyUI server";
    meter.classList.toggle("over", count > MAX_TOKENS);
    meter.firstChild.style.width = `${Math.min(100, (count / MAX_TOKENS) * 100)}%`;
  }

  function renderInfo() {
    const els = ctx.store.state.elements;
    const sel = els.filter((e) => ctx.selection.has(e.id));
    const one = sel.length === 1 && sel[0].bbox;
    info.textContent = one
      ? `[${sel[0].bbox.join(", ")}]`
      : sel.length > 1
        ? `${sel.length} selected`
        : plural(els.length, "element");
  }

  ctx.hub.on("report", renderReport);
  ctx.hub.on("state", renderInfo);
  ctx.hub.on("selection", renderInfo);
  renderReport();
  renderInfo();
  return h("div.ig4-status", {}, verdict, tokens, meter, h("span.ig4-spacer"), info);
}
