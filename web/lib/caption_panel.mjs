// The caption tab: validation results, the JSON (read-only, copy, export), import (paste, upload, the
// clipboard; replace or merge) and the template gallery.

import { download, h, segmented } from "./dom.mjs";
import { importCaption } from "./importer.mjs";
import { plural, tally } from "./checker.mjs";
import { captionText, prettyCaption } from "./document.mjs";
import { templateGallery } from "./templates.mjs";

const ELEMENT_PATH = /^compositional_deconstruction\.elements\[(\d+)\]/;

export function captionPanel(ctx, backend, { onReveal }) {
  const problems = h("ul.ig4-problems.ig4-problem-list");
  const verdict = h("div.ig4-verdict");
  const json = h("pre.ig4-json", { tabIndex: 0 });
  const pretty = () => prettyCaption(ctx.store.state);
  const flash = (btn, text) => {
    const old = btn.textContent;
    btn.textContent = text;
    setTimeout(() => (btn.textContent = old), 1200);
  };
  const copyBtn = h("button.ig4-btn", { type: "button", textContent: "Copy", title: "Copy the caption JSON" });
  copyBtn.addEventListener("click", () =>
    navigator.clipboard?.writeText(captionText(ctx.store.state)).then(
      () => flash(copyBtn, "Copied ✓"),
      () => flash(copyBtn, "Copy failed"),
    ),
  );
  const exportBtn = h("button.ig4-btn", {
    type: "button",
    textContent: "Export .json",
    on: { click: () => download("caption.json", pretty()) },
  });

  const pasteArea = h("textarea.ig4-input.ig4-import-text", {
    rows: 4,
    placeholder: "Paste caption JSON here (code fences, trailing commas, curly quotes are repaired)",
    spellcheck: false,
  });
  const importBtn = h("button.ig4-btn.ig4-primary", { type: "button", textContent: "Import" });
  const fileInput = h("input", { type: "file", accept: ".json,.txt,application/json,text/plain", hidden: true });
  const uploadBtn = h("button.ig4-btn", {
    type: "button",
    textContent: "Upload…",
    on: { click: () => fileInput.click() },
  });
  const clipboardBtn = h("button.ig4-btn", {
    type: "button",
    textContent: "Paste from clipboard",
    title: "Import the caption JSON on the clipboard",
  });
  let mode = "replace";
  const modeSwitch = segmented(
    [
      { value: "replace", label: "Replace", title: "The import replaces the caption" },
      { value: "merge", label: "Merge", title: "Add the imported elements; fill only empty scene and style fields" },
    ],
    (value) => modeSwitch.set((mode = value)),
    "Replace the caption or merge into it",
  );
  modeSwitch.set(mode);
  const importResult = h("div.ig4-import-result", { role: "status" });
  const pathItem = (r) => h("li", {}, h("code", { textContent: `${r.path || "caption"} ` }), r.message);

  async function runImport(text) {
    importBtn.disabled = true;
    const result = await importCaption(ctx, backend, text, mode);
    importBtn.disabled = false;
    const n = result.repairs.length;
    const left = result.problems.length;
    const status = result.ok
      ? `${mode === "merge" ? "Merged" : "Imported"}${n ? ` with ${plural(n, "repair")}` : " — no repairs needed"}` +
        (left ? `; ${plural(left, "problem")} left to fix:` : "")
      : `Not imported: ${result.error}`;
    importResult.replaceChildren(
      h(`div.ig4-import-status.${result.ok ? "ok" : "error"}`, { textContent: status }),
      h("ul.ig4-repairs.ig4-import-problems", {}, result.problems.map(pathItem)),
      h("ul.ig4-repairs", {}, result.repairs.map(pathItem)),
    );
    if (result.ok) pasteArea.value = "";
  }
  clipboardBtn.addEventListener("click", async () => {
    try {
      await runImport(await navigator.clipboard.readText());
    } catch (err) {
      importResult.replaceChildren(
        h("div.ig4-import-status.error", { textContent: `Cannot read the clipboard: ${err.message}` }),
      );
    }
  });
  importBtn.addEventListener("click", () => pasteArea.value.trim() && runImport(pasteArea.value));
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    if (file) await runImport(await file.text());
    fileInput.value = "";
  });

  function problemItem(p) {
    const m = p.path.match(ELEMENT_PATH);
    const item = h(
      `li.ig4-problem.${p.severity}`,
      {},
      h("code", { textContent: p.path || "caption" }),
      h("span", { textContent: ` ${p.message}` }),
      p.fix ? h("em", { textContent: ` — ${p.fix}` }) : null,
    );
    if (m) {
      item.classList.add("link");
      item.title = "Select this element";
      item.addEventListener("click", () => onReveal(ctx.store.state.elements[Number(m[1])]?.id));
    }
    return item;
  }

  function renderReport() {
    const r = ctx.report;
    const { errors, warnings } = tally(r);
    const source = {
      engine: "checked by the engine",
      pending: "checking with the engine…",
      offline: "engine unreachable — local check",
      local: "local check (offline)",
    }[r.source];
    verdict.className = `ig4-verdict ${r.valid ? "ok" : "bad"}`;
    verdict.replaceChildren(
      h("strong", { textContent: r.valid ? "✓ Valid caption" : `✕ ${plural(errors, "error")}` }),
      h("span", { textContent: warnings ? ` · ${plural(warnings, "warning")}` : "" }),
      h("small", { textContent: ` — ${source}` }),
    );
    problems.replaceChildren(...r.problems.map(problemItem));
  }

  ctx.hub.on("report", renderReport);
  let idle = 0; // the JSON view is rewritten when the browser is idle, not inside each keystroke
  ctx.hub.on("state", (meta) => {
    if (meta.transient) return;
    cancelIdleCallback(idle);
    idle = requestIdleCallback(() => (json.textContent = pretty()), { timeout: 300 });
  });
  json.textContent = pretty();
  renderReport();
  return h(
    "section.ig4-section",
    {},
    verdict,
    problems,
    h("div.ig4-row", {}, h("h4.ig4-h", { textContent: "JSON" }), h("span.ig4-spacer"), copyBtn, exportBtn),
    json,
    h("h4.ig4-h", { textContent: "Import" }),
    pasteArea,
    h("div.ig4-row", {}, importBtn, uploadBtn, clipboardBtn, fileInput, h("span.ig4-spacer"), modeSwitch.el),
    importResult,
    templateGallery(ctx),
  );
}
