// Editor CSS, injected once per document (ComfyUI ignores .css files next to extensions).

const STYLE_ID = "ig4-caption-editor-style";

const CSS = `
.ig4-editor {
  /* ComfyUI's palette (light or dark, set by the frontend on :root); the fallbacks are a dark theme. */
  --ig4-bg: var(--comfy-menu-bg, #1b1b20); --ig4-panel: var(--comfy-menu-secondary-bg, color-mix(in srgb, var(--ig4-text) 4%, var(--ig4-bg)));
  --ig4-input: var(--comfy-input-bg, #15151a); --ig4-border: var(--border-color, #33333d);
  --ig4-text: var(--fg-color, #e4e4ea); --ig4-dim: var(--descrip-text, #9999a6); --ig4-accent: #4ea1ff; --ig4-ok: #3ecf8e;
  --ig4-raised: color-mix(in srgb, var(--ig4-text) 9%, var(--ig4-bg));
  --ig4-hover: color-mix(in srgb, var(--ig4-text) 16%, var(--ig4-bg));
  --ig4-strong: color-mix(in srgb, var(--ig4-text) 32%, var(--ig4-bg));
  --ig4-warn: #f5b942; --ig4-bad: #ff5c5c;
  box-sizing: border-box; display: flex; flex-direction: column; width: 100%; height: 100%;
  min-height: 420px; background: var(--ig4-bg); color: var(--ig4-text); border-radius: 8px;
  border: 1px solid var(--ig4-border); font: 12px/1.4 Inter, system-ui, -apple-system, "Segoe UI", sans-serif;
  overflow: hidden; outline: none; pointer-events: auto;
}
.ig4-editor *, .ig4-editor *::before, .ig4-editor *::after { box-sizing: border-box; }
.ig4-editor [hidden] { display: none !important; }
.ig4-arrange { display: flex; align-items: center; gap: 4px; flex: 1 0 100%; flex-wrap: wrap; }
.ig4-arrange > .ig4-dim { color: var(--ig4-dim); margin-right: 2px; }
.ig4-layer-flag { font: inherit; font-size: 10px; padding: 0 2px; background: none; border: 1px solid transparent; border-radius: 3px; opacity: 0.3; cursor: pointer; }
.ig4-layer-flag.on { opacity: 1; border-color: var(--ig4-border); }
.ig4-inline { position: absolute; z-index: 5; min-width: 60px; min-height: 24px; resize: none; padding: 4px 6px; font: 14px/1.3 Inter, system-ui, sans-serif;
  color: var(--ig4-text); background: color-mix(in srgb, var(--ig4-bg) 88%, transparent); border: 2px solid var(--ig4-accent); border-radius: 3px; }
.ig4-box-palette { position: absolute; z-index: 4; max-width: 190px; padding: 6px; background: var(--ig4-panel); border: 1px solid var(--ig4-border);
  border-radius: 6px; box-shadow: 0 4px 16px rgba(0,0,0,0.35); }
.ig4-templates { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: 6px; }
.ig4-template { text-align: left; padding: 6px 8px; }
.ig4-thumb { max-width: 90%; max-height: 70%; object-fit: contain; border-radius: 3px; box-shadow: 0 2px 10px rgba(0,0,0,0.4); }
.ig4-arrange-btn { min-width: 26px; padding: 2px 5px; }
.ig4-help-wrap { position: relative; }
.ig4-help { position: absolute; right: 0; top: calc(100% + 4px); z-index: 20; width: 380px; max-height: 60vh; overflow: auto;
  padding: 8px 10px; background: var(--ig4-panel); border: 1px solid var(--ig4-border); border-radius: 6px;
  box-shadow: 0 6px 24px rgba(0,0,0,0.4); }
.ig4-keys { border-collapse: collapse; width: 100%; }
.ig4-keys td { padding: 2px 4px; vertical-align: top; }
.ig4-keys kbd { font: 11px ui-monospace, monospace; padding: 0 4px; border: 1px solid var(--ig4-border); border-radius: 3px; white-space: nowrap; }
.ig4-editor :focus-visible { outline: 2px solid var(--ig4-accent); outline-offset: 1px; }
.ig4-toolbar, .ig4-status { display: flex; align-items: center; gap: 6px; padding: 6px 8px; background: var(--ig4-panel); flex: 0 0 auto; }
.ig4-toolbar { border-bottom: 1px solid var(--ig4-border); flex-wrap: wrap; }
.ig4-status { border-top: 1px solid var(--ig4-border); color: var(--ig4-dim); }
.ig4-spacer { flex: 1 1 auto; }
.ig4-sep { width: 1px; align-self: stretch; background: var(--ig4-border); margin: 0 2px; }
.ig4-btn, .ig4-seg-btn, .ig4-select, .ig4-tab, .ig4-pill, .ig4-icon-btn {
  font: inherit; color: var(--ig4-text); background: var(--ig4-raised); border: 1px solid var(--ig4-border);
  border-radius: 6px; padding: 3px 9px; cursor: pointer; line-height: 18px; white-space: nowrap;
}
.ig4-btn:hover:not(:disabled), .ig4-seg-btn:hover, .ig4-icon-btn:hover:not(:disabled), .ig4-select:hover { border-color: var(--ig4-strong); background: var(--ig4-hover); }
.ig4-btn:disabled, .ig4-icon-btn:disabled { opacity: 0.4; cursor: default; }
.ig4-svg { width: 14px; height: 14px; display: block; fill: none; stroke: currentColor; stroke-width: 1.5; stroke-linecap: round; stroke-linejoin: round; }
.ig4-btn:has(> .ig4-svg) { padding: 3px 6px; }
.ig4-btn.ig4-primary { background: var(--ig4-accent); border-color: var(--ig4-accent); color: #07121f; font-weight: 600; }
.ig4-toggle.on { border-color: var(--ig4-accent); color: var(--ig4-accent); background: rgba(78,161,255,0.12); }
.ig4-seg { display: inline-flex; border: 1px solid var(--ig4-border); border-radius: 6px; overflow: hidden; }
.ig4-seg-btn { border: 0; border-radius: 0; background: var(--ig4-raised); }
.ig4-seg-btn + .ig4-seg-btn { border-left: 1px solid var(--ig4-border); }
.ig4-seg-btn.on { background: var(--ig4-accent); color: #07121f; font-weight: 600; }
.ig4-ref { display: inline-flex; align-items: center; gap: 6px; color: var(--ig4-dim); }
.ig4-ref.disabled { opacity: 0.45; }
.ig4-range { width: 90px; accent-color: var(--ig4-accent); outline: none; }
.ig4-editor.ig4-focus { position: fixed; inset: 0; z-index: 10000; border-radius: 0; min-height: 0; }
.ig4-focus .ig4-stage { overflow: hidden; position: relative; }
.ig4-placeholder { display: flex; flex-direction: column; gap: 8px; align-items: center; justify-content: center; height: 100%; min-height: 120px; color: var(--descrip-text, #9999a6); font: 13px system-ui, sans-serif; border: 1px dashed var(--border-color, #44444f); border-radius: 8px; cursor: pointer; }
.ig4-magic { display: flex; flex-direction: column; gap: 6px; padding: 8px; background: var(--ig4-panel); border-bottom: 1px solid var(--ig4-border); }
.ig4-magic-btn { color: var(--ig4-accent); }
.ig4-magic-status { color: var(--ig4-dim); }
.ig4-magic-status.error { color: var(--ig4-bad); }
.ig4-magic.drag-over { outline: 2px dashed var(--ig4-accent); outline-offset: -4px; }
.ig4-magic-ref { display: inline-flex; align-items: center; gap: 4px; }
.ig4-magic-thumb { height: 32px; max-width: 64px; object-fit: contain; border: 1px solid var(--ig4-border); border-radius: 3px; }
.ig4-check { display: inline-flex; align-items: center; gap: 4px; color: var(--ig4-dim); }
.ig4-edit-tick { margin: 0 2px; accent-color: var(--ig4-accent); }
.ig4-editor :focus-visible { outline: 2px solid var(--ig4-accent); outline-offset: 1px; }
.ig4-banner { padding: 6px 10px; background: rgba(245,185,66,0.14); color: var(--ig4-warn); border-bottom: 1px solid rgba(245,185,66,0.3); }
.ig4-remap { display: flex; align-items: center; gap: 8px; color: var(--ig4-text); background: rgba(78,161,255,0.1); border-color: rgba(78,161,255,0.3); }
.ig4-offer { display: flex; align-items: center; gap: 8px; color: var(--ig4-text); background: rgba(78,161,255,0.12); border-color: rgba(78,161,255,0.3); }
.ig4-main { flex: 1 1 auto; display: flex; min-height: 0; }
.ig4-stage {
  position: relative; overflow: hidden; flex: 1 1 auto; min-width: 0; min-height: 200px; display: flex; align-items: center; justify-content: center;
  background: repeating-conic-gradient(color-mix(in srgb, var(--ig4-bg) 88%, #000) 0 25%, color-mix(in srgb, var(--ig4-bg) 80%, #000) 0 50%) 0 0 / 16px 16px;
}
.ig4-canvas { display: block; border-radius: 3px; box-shadow: 0 0 0 1px var(--ig4-strong), 0 6px 24px rgba(0,0,0,0.45); cursor: crosshair; touch-action: none; outline: none; }
.ig4-side { flex: 0 0 320px; width: 320px; min-width: 0; display: flex; flex-direction: column; min-height: 0; border-left: 1px solid var(--ig4-border); background: var(--ig4-panel); }
.ig4-narrow .ig4-main { flex-direction: column; }
.ig4-narrow .ig4-stage { flex: 1 1 55%; }
.ig4-narrow .ig4-side { flex: 1 1 45%; width: auto; border-left: 0; border-top: 1px solid var(--ig4-border); }
.ig4-tabs { display: flex; gap: 2px; padding: 6px 6px 0; border-bottom: 1px solid var(--ig4-border); flex: 0 0 auto; }
.ig4-tab { border-radius: 6px 6px 0 0; border-bottom: 0; background: transparent; color: var(--ig4-dim); }
.ig4-tab.on { background: var(--ig4-bg); color: var(--ig4-text); border-color: var(--ig4-border); }
.ig4-tab-body { flex: 1 1 auto; overflow-y: auto; min-height: 0; padding: 8px 10px 12px; display: flex; flex-direction: column; gap: 10px; }
.ig4-section { display: flex; flex-direction: column; gap: 8px; }
.ig4-h { margin: 0; font-size: 11px; font-weight: 600; letter-spacing: 0.06em; text-transform: uppercase; color: var(--ig4-dim); }
.ig4-h small { text-transform: none; letter-spacing: 0; font-weight: 400; opacity: 0.7; }
.ig4-row { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.ig4-field { display: flex; flex-direction: column; gap: 4px; }
.ig4-field-label { display: flex; align-items: center; gap: 6px; color: var(--ig4-dim); font-size: 11px; font-weight: 500; }
.ig4-field-label small { opacity: 0.7; font-weight: 400; }
.ig4-input, .ig4-hex-input {
  width: 100%; font: inherit; color: var(--ig4-text); background: var(--ig4-input); border: 1px solid var(--ig4-border);
  border-radius: 6px; padding: 5px 7px; resize: vertical; outline: none;
}
.ig4-input:focus, .ig4-hex-input:focus { border-color: var(--ig4-accent); box-shadow: 0 0 0 2px rgba(78,161,255,0.18); }
.ig4-box-row { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6px; }
.ig4-mini { display: flex; flex-direction: column; gap: 2px; font-size: 10px; color: var(--ig4-dim); }
.ig4-num { padding: 3px 5px; font-variant-numeric: tabular-nums; }
.ig4-layer-tools .ig4-btn { padding: 2px 7px; }
.ig4-layers { display: flex; flex-direction: column; gap: 2px; max-height: 230px; overflow-y: auto; padding: 2px; background: var(--ig4-input); border: 1px solid var(--ig4-border); border-radius: 6px; }
.ig4-layer { display: flex; align-items: center; gap: 6px; padding: 4px 6px; border-radius: 5px; cursor: pointer; user-select: none; border: 1px solid transparent; }
.ig4-layer:hover { background: var(--ig4-hover); }
.ig4-layer.selected { background: rgba(78,161,255,0.14); border-color: rgba(78,161,255,0.5); }
.ig4-layer.dragging { opacity: 0.5; }
.ig4-layer.drop-here { box-shadow: inset 0 2px 0 var(--ig4-accent); }
.ig4-layer.has-error .ig4-layer-num { box-shadow: 0 0 0 2px var(--ig4-bad); }
.ig4-grip { color: var(--ig4-strong); cursor: grab; font-size: 10px; letter-spacing: -2px; }
.ig4-layer-num { min-width: 20px; height: 16px; border-radius: 4px; color: #0d0d10; font-weight: 700; font-size: 10px; display: inline-flex; align-items: center; justify-content: center; }
.ig4-badge { font-size: 10px; color: var(--ig4-dim); border: 1px solid var(--ig4-border); border-radius: 4px; padding: 0 4px; }
.ig4-layer-label { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.ig4-tag { font-size: 10px; color: var(--ig4-warn); white-space: nowrap; }
.ig4-dots { display: inline-flex; gap: 2px; }
.ig4-dot { width: 8px; height: 8px; border-radius: 50%; box-shadow: 0 0 0 1px rgba(0,0,0,0.5); }
.ig4-empty, .ig4-hint { color: var(--ig4-dim); padding: 8px; }
.ig4-hint p { margin: 0 0 6px; }
.ig4-hint kbd { font: 10px ui-monospace, monospace; background: var(--ig4-raised); border: 1px solid var(--ig4-border); border-bottom-width: 2px; border-radius: 4px; padding: 0 4px; color: var(--ig4-text); }
.ig4-inspector { display: flex; flex-direction: column; gap: 8px; padding-top: 4px; border-top: 1px solid var(--ig4-border); }
.ig4-inspector > .ig4-row .ig4-h { font-size: 12px; color: var(--ig4-text); }
.ig4-palette { display: flex; flex-direction: column; gap: 6px; }
.ig4-palette-row { display: flex; align-items: center; gap: 6px; }
.ig4-chips { display: flex; flex-wrap: wrap; gap: 5px; }
.ig4-chips:empty { display: none; }
.ig4-style-body { display: flex; flex-direction: column; gap: 8px; }
.ig4-field > .ig4-seg { align-self: flex-start; }
.ig4-chip { position: relative; width: 26px; height: 26px; border-radius: 6px; border: 1px solid rgba(255,255,255,0.18); padding: 0; cursor: grab; box-shadow: inset 0 0 0 1px rgba(0,0,0,0.25); touch-action: none; }
.ig4-chip:hover { transform: translateY(-1px); border-color: #fff; }
.ig4-chip.dragging { opacity: 0.5; }
.ig4-chip.drop-here { box-shadow: -3px 0 0 0 var(--ig4-accent); }
.ig4-chip-x { position: absolute; top: -6px; right: -6px; width: 14px; height: 14px; border-radius: 50%; background: #111; color: #ddd; font-size: 11px; line-height: 13px; text-align: center; display: none; cursor: pointer; border: 1px solid #444; }
.ig4-chip:hover .ig4-chip-x { display: block; }
.ig4-icon-btn { width: 26px; height: 26px; padding: 0; font-size: 15px; display: inline-flex; align-items: center; justify-content: center; flex: 0 0 auto; }
.ig4-icon-btn.ig4-add { border-style: dashed; color: var(--ig4-dim); }
.ig4-hex-input { flex: 1 1 auto; font-family: ui-monospace, monospace; padding: 3px 6px; }
.ig4-count { font-variant-numeric: tabular-nums; color: var(--ig4-dim); font-size: 11px; min-width: 34px; text-align: right; }
.ig4-count.full { color: var(--ig4-warn); }
.ig4-note { color: var(--ig4-warn); font-size: 11px; }
.ig4-hidden-picker { position: absolute; width: 0; height: 0; opacity: 0; pointer-events: none; border: 0; padding: 0; }
.ig4-problems { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 4px; }
.ig4-problem, .ig4-repairs li { overflow-wrap: anywhere; }
.ig4-problem { padding: 5px 8px; border-radius: 6px; border-left: 3px solid; background: var(--ig4-input); font-size: 11px; }
.ig4-problem.error { border-color: var(--ig4-bad); }
.ig4-problem.warning { border-color: var(--ig4-warn); }
.ig4-problem.link { cursor: pointer; }
.ig4-problem.link:hover { background: var(--ig4-hover); }
.ig4-problem code { color: var(--ig4-dim); font: 10px ui-monospace, monospace; }
.ig4-problem em { color: var(--ig4-dim); }
.ig4-verdict { padding: 8px 10px; border-radius: 6px; background: var(--ig4-input); }
.ig4-verdict.ok strong { color: var(--ig4-ok); }
.ig4-verdict.bad strong { color: var(--ig4-bad); }
.ig4-verdict small { color: var(--ig4-dim); }
.ig4-json { margin: 0; max-height: 260px; overflow: auto; padding: 8px; background: var(--ig4-input); border: 1px solid var(--ig4-border); border-radius: 6px; font: 11px/1.45 ui-monospace, "SF Mono", Menlo, monospace; color: #c9d4e3; white-space: pre-wrap; word-break: break-word; user-select: text; }
.ig4-import-text { font-family: ui-monospace, monospace; font-size: 11px; }
.ig4-import-status.ok { color: var(--ig4-ok); }
.ig4-import-status.error { color: var(--ig4-bad); }
.ig4-repairs { margin: 4px 0 0; padding-left: 18px; color: var(--ig4-dim); }
.ig4-repairs:empty { display: none; }
.ig4-pill { border-radius: 999px; padding: 1px 10px; font-weight: 600; }
.ig4-pill.ok { color: var(--ig4-ok); border-color: rgba(62,207,142,0.4); }
.ig4-pill.warn { color: var(--ig4-warn); border-color: rgba(245,185,66,0.4); }
.ig4-pill.bad { color: var(--ig4-bad); border-color: rgba(255,92,92,0.5); }
.ig4-tokens { font-variant-numeric: tabular-nums; }
.ig4-meter { width: 70px; height: 5px; background: var(--ig4-raised); border-radius: 3px; overflow: hidden; }
.ig4-meter-fill { display: block; height: 100%; background: var(--ig4-accent); }
.ig4-meter.over .ig4-meter-fill { background: var(--ig4-bad); }
.ig4-info { font: 11px ui-monospace, monospace; }
`;

/** Add the stylesheet once, however many editors or module copies ask. */
export function injectStyles(doc = document) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  doc.head.append(style);
}
