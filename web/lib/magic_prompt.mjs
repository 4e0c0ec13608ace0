// "Magic Prompt": turn a one-line idea (and optionally the current caption, or a reference image) into a full
// caption on the server (POST MAGIC_ROUTE), then load it into the editor as one undoable step.
// Request {idea, width, height, seed, caption: str|null, image: str|null}; 200 {caption: str}; 4xx {error: str}.
// `image` is a "data:image/png;base64,…" or "data:image/jpeg;base64,…" URL of the picked or dropped picture,
// scaled here to ≤ MAX_IMAGE_SIDE px on its longest side; with it the idea may be empty and `caption` is null
// (the server refuses both together).

import { MAGIC_ROUTE } from "./constants.mjs";
import { captionText } from "./document.mjs";
import { h } from "./dom.mjs";
import { fromCaption } from "./model.mjs";
import { forgivingParse } from "./repair.mjs";

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"];
const MAX_IMAGE_SIDE = 1024;
const IDEA_PLACEHOLDER = "Your idea in a sentence, e.g. “a retro poster for a jazz night in Lisbon”";
const IMAGE_PLACEHOLDER = "Optional with a reference image: how to steer it, e.g. “same layout, for a bakery”";
const REFINE_TIP = "Revise the current caption as the idea asks (not with a reference image)";
const REFINE_OFF_TIP = "A reference image gets a new caption: remove it to start from the current caption";

/** `file` as a data URL, scaled down to ≤ MAX_IMAGE_SIDE on its longest side (JPEG stays JPEG, else PNG). */
async function downscaled(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_IMAGE_SIDE / Math.max(bitmap.width, bitmap.height));
  const [width, height] = [bitmap.width, bitmap.height].map((side) => Math.max(1, Math.round(side * scale)));
  const canvas = h("canvas", { width, height });
  const g = canvas.getContext("2d");
  g.imageSmoothingQuality = "high";
  g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return file.type === "image/jpeg" ? canvas.toDataURL("image/jpeg", 0.92) : canvas.toDataURL("image/png");
}

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
    placeholder: IDEA_PLACEHOLDER,
    "aria-label": "Magic Prompt idea",
  });
  const seed = h("input.ig4-input.ig4-num", { type: "number", min: 0, value: "0", "aria-label": "Seed", title: "Seed" });
  const refine = h("input", { type: "checkbox", "aria-label": "Start from the current caption" });
  const refineText = h("span", { textContent: "Start from the current caption" });
  const refineLabel = h("label.ig4-check", { title: REFINE_TIP }, refine, refineText);
  const fileInput = h("input.ig4-magic-file", { type: "file", accept: IMAGE_TYPES.join(","), hidden: true });
  const pick = h("button.ig4-btn", {
    type: "button",
    textContent: "Reference image…",
    "aria-label": "Add a reference image",
    title: "Describe a picture as a caption, the idea steering it (PNG, JPEG or WebP; or drop it on this bar)",
    on: { click: () => fileInput.click() },
  });
  const thumb = h("img.ig4-magic-thumb", { alt: "Reference image" });
  const remove = h("button.ig4-icon-btn", {
    type: "button",
    textContent: "×",
    "aria-label": "Remove the reference image",
    title: "Remove the reference image",
  });
  const chip = h("span.ig4-magic-ref", { hidden: true }, thumb, remove);
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
      pick,
      fileInput,
      chip,
      refineLabel,
      h("span.ig4-spacer"),
      status,
      go,
    ),
  );
  let image = null; // the reference image's data URL

  const say = (text, error = false) => {
    status.textContent = text;
    status.className = `ig4-magic-status${error ? " error" : ""}`;
  };
  function setImage(url) {
    image = url;
    if (url) thumb.src = url;
    else thumb.removeAttribute("src");
    chip.hidden = !url;
    refine.disabled = Boolean(url);
    if (url) refine.checked = false;
    refineLabel.title = url ? REFINE_OFF_TIP : REFINE_TIP;
    idea.placeholder = url ? IMAGE_PLACEHOLDER : IDEA_PLACEHOLDER;
  }
  async function addImage(file) {
    if (!IMAGE_TYPES.includes(file.type)) return say(`${file.name} is not a PNG, JPEG or WebP image.`, true);
    say("Reading the image…");
    try {
      setImage(await downscaled(file));
      say("");
    } catch (err) {
      say(`Cannot read ${file.name}: ${err.message}`, true);
    }
  }

  async function run() {
    if (!idea.value.trim() && !image) return say("Write an idea or add a reference image first.", true);
    go.disabled = true;
    say(image ? "Describing the image…" : "Writing…");
    const body = {
      idea: idea.value.trim(),
      width: ctx.size.width,
      height: ctx.size.height,
      seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
      caption: refine.checked ? captionText(ctx.store.state) : null,
      image,
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
    if (problem) return say(problem, true);
    ctx.selection.set([]);
    ctx.store.reset(fromCaption(caption), { keepHistory: true });
    say("Caption loaded — Ctrl+Z undoes it.");
  }

  go.addEventListener("click", run);
  fileInput.addEventListener("change", () => {
    if (fileInput.files[0]) addImage(fileInput.files[0]);
    fileInput.value = "";
  });
  remove.addEventListener("click", () => {
    setImage(null);
    pick.focus();
  });
  // Drops stop here: ComfyUI would otherwise open a dropped PNG as a workflow.
  const hasFiles = (e) => e.dataTransfer?.types.includes("Files");
  el.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.stopPropagation();
    el.classList.add("drag-over");
  });
  el.addEventListener("dragleave", (e) => {
    if (!el.contains(e.relatedTarget)) el.classList.remove("drag-over");
  });
  el.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.stopPropagation();
    el.classList.remove("drag-over");
    if (e.dataTransfer.files[0]) addImage(e.dataTransfer.files[0]);
  });
  idea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run();
  });
  const toggle = () => {
    el.hidden = !el.hidden;
    refine.checked = !image && ctx.store.state.elements.length > 0;
    if (!el.hidden) idea.focus();
  };
  return { el, toggle };
}
