// Mounts the caption editor into a container. Independent of ComfyUI: the host passes the stored
// document and gets the new one back through onDocument.

import { boxPalette } from "./box_palette.mjs";
import { CanvasView } from "./canvas_view.mjs";
import { captionPanel } from "./caption_panel.mjs";
import { startChecker } from "./checker.mjs";
import { createContext } from "./context.mjs";
import { captionText, readDocument, writeDocument } from "./document.mjs";
import { h } from "./dom.mjs";
import { elementPanel } from "./element_panel.mjs";
import { importCaption } from "./importer.mjs";
import { inlineEditor } from "./inline_edit.mjs";
import { layersPanel } from "./layers_panel.mjs";
import { magicPromptBar } from "./magic_prompt.mjs";
import { remapBar } from "./remap_bar.mjs";
import { scenePanel } from "./scene_panel.mjs";
import { shortcutFor } from "./shortcuts.mjs";
import { statusBar } from "./status_bar.mjs";
import { liveThumbnail } from "./thumbnail.mjs";
import { injectStyles } from "./styles.mjs";
import { toolbar } from "./toolbar.mjs";

const NARROW_PX = 620;
const TEXT_INPUT = /^(INPUT|TEXTAREA|SELECT)$/;

function tabs(entries) {
  const bar = h("div.ig4-tabs", { role: "tablist" });
  const views = new Map();
  const show = (name) => {
    for (const [key, { button, body }] of views) {
      button.classList.toggle("on", key === name);
      body.hidden = key !== name;
    }
  };
  for (const [name, label, body] of entries) {
    const button = h("button.ig4-tab", {
      type: "button",
      role: "tab",
      textContent: label,
      dataset: { tab: name },
      on: { click: () => show(name) },
    });
    bar.append(button);
    views.set(name, { button, body });
  }
  show(entries[0][0]);
  return { bar, bodies: entries.map((e) => e[2]), show };
}

/**
 * opts: {document: string (see document.mjs), onDocument(text), backend: {check}|null,
 * aspect: {width, height}, post(route, body) → Promise<Response> (enables Magic Prompt)}.
 * Returns the editor API.
 */
export function mountEditor(container, opts = {}) {
  injectStyles();
  const initial = readDocument(opts.document);
  const ctx = createContext(initial.state, initial.prefs);
  let lastDocument = opts.document ?? "";
  const banner = h("div.ig4-banner", { hidden: true });
  let offered = "";
  const offer = h(
    "div.ig4-banner.ig4-offer",
    { hidden: true },
    h("span", { textContent: "The last run used a caption (from the caption input) that differs from this one." }),
    h("span.ig4-spacer"),
    h("button.ig4-btn.ig4-primary", {
      type: "button",
      textContent: "Load into editor",
      on: { click: () => importCaption(ctx, opts.backend ?? null, offered).then(() => (offer.hidden = true)) },
    }),
    h("button.ig4-btn", { type: "button", textContent: "Dismiss", on: { click: () => (offer.hidden = true) } }),
  );

  const canvas = new CanvasView(ctx);
  inlineEditor(ctx, canvas);
  boxPalette(ctx, canvas);
  let side = null;
  const reveal = (id) => {
    if (id) ctx.selection.set([id]);
    side.show("layers");
  };
  side = tabs([
    ["layers", "Elements", h("div.ig4-tab-body", {}, layersPanel(ctx), elementPanel(ctx))],
    ["scene", "Scene & style", h("div.ig4-tab-body", {}, scenePanel(ctx))],
    ["caption", "Caption", h("div.ig4-tab-body", {}, captionPanel(ctx, opts.backend ?? null, { onReveal: reveal }))],
  ]);
  const remap = remapBar(ctx);
  const magic = opts.post ? magicPromptBar(ctx, opts.post) : null;
  const bar = toolbar(ctx, { onMagic: magic?.toggle, onFocus: () => (focused ? api.closeFocus() : api.openFocus()) });
  const root = h(
    "div.ig4-editor",
    { tabIndex: -1 },
    bar.el,
    magic?.el,
    banner,
    remap.el,
    offer,
    h("div.ig4-main", {}, canvas.el, h("div.ig4-side", {}, side.bar, ...side.bodies)),
    statusBar(ctx, { onVerdictClick: () => side.show("caption") }),
  );
  container.append(root);

  const showBanner = (doc) => {
    const fixes = doc?.adjustments?.map((a) => `${a.path || "caption"}: ${a.message}`).join("; ");
    banner.hidden = !doc?.error && !fixes;
    banner.textContent = doc?.error
      ? `The stored caption is not valid JSON (${doc.error}). Paste it into Caption › Import to repair it; editing here replaces it.`
      : `Adjusted to load into the editor (saved with your next edit) — ${fixes}`;
  };
  showBanner(initial);

  const save = () => {
    lastDocument = writeDocument(ctx.store.state, ctx.prefs);
    showBanner(null);
    opts.onDocument?.(lastDocument);
  };
  ctx.store.subscribe((state, meta) => meta.transient || meta.reason === "load" || save());
  ctx.hub.on("prefs", ({ silent }) => silent || save());
  ctx.hub.on("selection", (ids) => ids.length && side.show("layers"));
  const stopChecker = startChecker(ctx, opts.backend ?? null);

  // Keys stop at the editor's root so the host (ComfyUI shortcuts: delete node, graph undo…) never
  // sees them; fields inside still get them first.
  const onKey = (e) => {
    e.stopPropagation();
    if (TEXT_INPUT.test(e.target.tagName)) return;
    if (e.type !== "keydown") {
      if (e.target === canvas.canvas && canvas.handleKey(e)) e.preventDefault();
      return;
    }
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    const onCanvas = e.target === canvas.canvas;
    const action = onCanvas ? shortcutFor(e) : null;
    if (e.key === "Escape" && focused && !ctx.selection.ids.length && !canvas.drag) api.closeFocus();
    else if (mod && key === "z") e.shiftKey ? ctx.store.redo() : ctx.store.undo();
    else if (mod && key === "y") ctx.store.redo();
    else if (e.key === "?") bar.help.toggle();
    else if (action) action(ctx);
    else if (!onCanvas || !canvas.handleKey(e)) return;
    e.preventDefault();
  };
  root.addEventListener("keydown", onKey);
  root.addEventListener("keyup", onKey);
  // Nodes 2.0 renders the editor inside the node element: a press here must not start a node drag,
  // and scrolling a panel must not zoom the graph.
  root.addEventListener("pointerdown", (e) => e.stopPropagation());
  root.querySelector(".ig4-side").addEventListener("wheel", (e) => e.stopPropagation(), { passive: true });

  const resizeObserver = new ResizeObserver(() => root.classList.toggle("ig4-narrow", root.clientWidth < NARROW_PX));
  resizeObserver.observe(root);

  // Focus mode: the editor moves to a full-window overlay on <body> (outside the graph's zoom transform)
  // with wheel zoom and space-drag pan; a placeholder with a live thumbnail keeps its place in the node.
  let focused = false;
  const thumb = liveThumbnail(ctx);
  const placeholder = h(
    "div.ig4-placeholder",
    { role: "button", tabIndex: 0, title: "Return to the node", on: { click: () => api.closeFocus() } },
    thumb.el,
    h("span", { textContent: "Editing in focus mode — click (or Esc) to return" }),
  );

  const api = {
    root,
    ctx,
    get focused() {
      return focused;
    },
    /** Open the full-window editor. */
    openFocus() {
      if (focused) return;
      focused = true;
      root.replaceWith(placeholder);
      document.body.append(root);
      thumb.active = true;
      root.classList.add("ig4-focus");
      root.setAttribute("role", "dialog");
      root.setAttribute("aria-label", "Caption builder (focus mode)");
      canvas.zoomable = true;
      canvas.zoomToFit();
      ctx.hub.emit("focus", true);
      canvas.canvas.focus({ preventScroll: true });
    },
    closeFocus() {
      if (!focused) return;
      focused = false;
      thumb.active = false;
      root.classList.remove("ig4-focus");
      root.removeAttribute("role");
      placeholder.replaceWith(root);
      canvas.zoomable = false;
      canvas.zoomToFit();
      ctx.hub.emit("focus", false);
    },
    /** Load a document written elsewhere (workflow load, paste, Python); ignores our own echo. */
    setDocument(text) {
      if ((text ?? "") === lastDocument) return;
      lastDocument = text ?? "";
      const doc = readDocument(text);
      showBanner(doc);
      ctx.selection.set([]);
      ctx.setPrefs(doc.prefs, { silent: true });
      ctx.store.reset(doc.state);
    },
    getDocument: () => lastDocument,
    /** Offer to load a caption produced elsewhere (e.g. the node's imported input) unless it is ours. */
    offerCaption(text) {
      offered = text;
      offer.hidden = text === captionText(ctx.store.state);
    },
    setAspect(width, height) {
      const aspect = width > 0 && height > 0 ? width / height : 1;
      if (width > 0 && height > 0) {
        ctx.size = { width, height };
        ctx.hub.emit("size", ctx.size);
      }
      if (aspect === ctx.aspect) return;
      ctx.aspect = aspect;
      ctx.hub.emit("aspect", aspect);
    },
    /**
     * The user changed the image size: follow it and remap the boxes as chosen in the bar that appears
     * (keep shapes by default, or stretch). setAspect is the silent twin for loading.
     */
    resizeTarget(width, height) {
      const before = ctx.aspect;
      api.setAspect(width, height);
      if (ctx.aspect !== before) remap.offer(before, ctx.aspect, `${width}×${height}`);
    },
    /** Show an image (URL) under the boxes; null removes it. */
    setUnderlay(url) {
      ctx.underlayFrame = null;
      if (!url) {
        ctx.underlay = null;
        ctx.hub.emit("underlay", null);
        return;
      }
      const img = new Image();
      img.onload = () => {
        ctx.underlay = img;
        ctx.hub.emit("underlay", img);
      };
      img.src = url;
    },
    destroy() {
      api.closeFocus();
      resizeObserver.disconnect();
      canvas.destroy();
      stopChecker();
      root.remove();
    },
  };
  if (opts.aspect) api.setAspect(opts.aspect.width, opts.aspect.height);
  return api;
}
