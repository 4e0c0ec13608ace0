// ComfyUI extension entry: puts the visual caption editor on IG4_CaptionBuilder nodes. The only .js file of
// the pack: ComfyUI loads every *.js under WEB_DIRECTORY as an extension, so the editor's modules are .mjs
// (still served, imported from here).
// The document ({"caption": …, "editor": …}, see lib/document.mjs) lives in the node's STRING widget
// (DOCUMENT_WIDGET, hidden); the editor widget itself is not serialised, so workflows, copy/paste and
// reloads all go through that one string.

import { api } from "../../scripts/api.js";
import { app } from "../../scripts/app.js";
import { CHECK_ROUTE, DOCUMENT_WIDGET, NODE_TYPE, REFERENCE_INPUT } from "./lib/constants.mjs";
import { mountEditor } from "./lib/editor.mjs";

const EDITOR_MIN_HEIGHT = 460;
const NEW_NODE_SIZE = [980, 760];

/** POST JSON to one of our server routes (relative to ComfyUI's API base). */
const post = (route, body) =>
  api.fetchApi(route, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

const backend = {
  async check(caption) {
    const res = await post(CHECK_ROUTE, { caption });
    if (!res.ok) throw new Error(`${CHECK_ROUTE}: HTTP ${res.status}`);
    return res.json();
  },
};

const widgetNamed = (node, name) => node.widgets?.find((w) => w.name === name);

const viewUrl = (img) =>
  api.apiURL(
    `/view?${new URLSearchParams({ filename: img.filename, subfolder: img.subfolder ?? "", type: img.type ?? "output" })}`,
  );

/**
 * Hide a widget on the classic canvas and in Nodes 2.0 while keeping it serialised. The options object is
 * changed in place: Nodes 2.0 keeps its own reference to it (widget value store) and lets that copy win.
 */
function hideWidget(widget) {
  widget.hidden = true;
  if (widget.options) widget.options.hidden = true;
  else widget.options = { hidden: true };
  widget.computeSize = () => [0, -4];
}

/** Let ComfyUI's workflow change tracker notice an edit (keys never reach its listeners). */
function markChanged(node) {
  node.setDirtyCanvas?.(true, false);
  const tracker = app.extensionManager?.workflow?.activeWorkflow?.changeTracker;
  // captureCanvasState() replaced checkState() (deprecated, warns) in newer frontends.
  if (typeof tracker?.captureCanvasState === "function") tracker.captureCanvasState();
  else tracker?.checkState?.();
}

function linkOf(graph, id) {
  return graph.getLink?.(id) ?? graph.links?.[id] ?? graph.links?.get?.(id);
}

/** Ids of every node downstream of `node`. */
function downstreamIds(node) {
  const graph = node.graph;
  const seen = new Set();
  const queue = [node];
  while (queue.length) {
    const current = queue.shift();
    for (const output of current.outputs ?? []) {
      for (const id of output.links ?? []) {
        const target = graph.getNodeById(linkOf(graph, id)?.target_id);
        if (target && !seen.has(String(target.id))) {
          seen.add(String(target.id));
          queue.push(target);
        }
      }
    }
  }
  return seen;
}

/** Image URL of whatever feeds the optional reference input, if anything. */
function referenceUrl(node) {
  const input = node.inputs?.find((i) => i.name === REFERENCE_INPUT);
  const link = input?.link != null ? linkOf(node.graph, input.link) : null;
  const source = link && node.graph.getNodeById(link.origin_id);
  if (!source) return null;
  const images = app.nodeOutputs?.[String(source.id)]?.images;
  if (images?.length) return viewUrl(images.at(-1));
  return source.imgs?.[0]?.src ?? null;
}

function attachEditor(node) {
  const docWidget = widgetNamed(node, DOCUMENT_WIDGET);
  if (!docWidget) {
    console.warn(`[Ideogram 4] ${NODE_TYPE} has no "${DOCUMENT_WIDGET}" widget; caption editor disabled.`);
    return;
  }
  hideWidget(docWidget);
  const host = document.createElement("div");
  host.style.cssText = "width:100%;height:100%;";
  const editor = mountEditor(host, {
    document: String(docWidget.value ?? ""),
    backend,
    post,
    onDocument: (text) => {
      docWidget.value = text;
      markChanged(node);
    },
  });
  const widget = node.addDOMWidget("caption_editor", "IG4_CAPTION_EDITOR", host, {
    serialize: false,
    hideOnZoom: false,
    getValue: () => editor.getDocument(),
    setValue: (value) => editor.setDocument(String(value ?? "")),
    getMinHeight: () => EDITOR_MIN_HEIGHT,
  });
  widget.serialize = false;

  const size = () => [Number(widgetNamed(node, "width")?.value), Number(widgetNamed(node, "height")?.value)];
  const syncAspect = () => {
    const [w, h] = size();
    if (w > 0 && h > 0) editor.setAspect(w, h);
  };
  for (const name of ["width", "height"]) {
    const w = widgetNamed(node, name);
    if (!w) continue;
    const original = w.callback;
    w.callback = function (...args) {
      const result = original?.apply(this, args);
      const [width, height] = size();
      if (width > 0 && height > 0) editor.resizeTarget(width, height); // a user edit: offer the remap
      return result;
    };
  }
  syncAspect();

  let shownUrl = null;
  node.ig4 = {
    editor,
    ownImage: null, // image this node reported itself (e.g. its reference input)
    lastResult: null, // last image produced downstream of this node
    /** Underlay priority: the wired reference, the node's own image, the last downstream result. */
    refreshUnderlay() {
      const url = referenceUrl(node) ?? node.ig4.ownImage ?? node.ig4.lastResult;
      if (url === shownUrl) return;
      shownUrl = url;
      editor.setUnderlay(url);
    },
    /** Re-read the stored document (after workflow load / paste). */
    reload() {
      editor.setDocument(String(docWidget.value ?? ""));
      syncAspect();
    },
  };
  node.ig4.refreshUnderlay();
}

function chain(proto, name, after) {
  const original = proto[name];
  proto[name] = function (...args) {
    const result = original?.apply(this, args);
    after.apply(this, args);
    return result;
  };
}

app.registerExtension({
  name: "ideogram4.CaptionBuilder",

  beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE_TYPE) return;
    const proto = nodeType.prototype;
    chain(proto, "onNodeCreated", function () {
      attachEditor(this);
      this.setSize?.([Math.max(this.size[0], NEW_NODE_SIZE[0]), Math.max(this.size[1], NEW_NODE_SIZE[1])]);
    });
    chain(proto, "onConfigure", function () {
      this.ig4?.reload();
    });
    chain(proto, "onConnectionsChange", function () {
      this.ig4?.refreshUnderlay();
    });
    chain(proto, "onDblClick", function () {
      this.ig4?.editor.openFocus();
    });
    chain(proto, "onRemoved", function () {
      this.ig4?.editor.destroy();
    });
  },

  setup() {
    api.addEventListener("executed", ({ detail }) => {
      const output = detail?.output ?? {};
      const url = output.images?.length ? viewUrl(output.images.at(-1)) : null;
      for (const node of app.graph?.nodes ?? []) {
        if (!node.ig4) continue;
        if (String(detail.node) === String(node.id)) {
          // The node reports the caption it used: differs from ours when the caption input was imported.
          if (output.caption?.[0]) node.ig4.editor.offerCaption(output.caption[0]);
          node.ig4.ownImage = url;
        } else if (url && downstreamIds(node).has(String(detail.node))) node.ig4.lastResult = url;
        node.ig4.refreshUnderlay();
      }
    });
  },
});
