// Tiny DOM helpers.

/** h("div.cls.other", {props, on: {click}}, ...children) → element. */
export function h(spec, props = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(props)) {
    if (key === "on") for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key in el && !key.includes("-")) el[key] = value;
    else el.setAttribute(key, value);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

/** Set a form control's value unless the user is typing in it. */
export function syncValue(input, value) {
  if (document.activeElement !== input && input.value !== value) input.value = value;
}

/** Labelled field wrapper. */
export const field = (label, control, extra = null) =>
  h("label.ig4-field", {}, h("span.ig4-field-label", {}, label, extra), control);

/** Segmented control: options [{value, label}], onPick(value). Returns {el, set(value)}. */
export function segmented(options, onPick, title = "") {
  const buttons = options.map((o) =>
    h("button.ig4-seg-btn", {
      type: "button",
      textContent: o.label,
      title: o.title ?? "",
      dataset: { value: String(o.value) },
      on: { click: () => onPick(o.value) },
    }),
  );
  const el = h("div.ig4-seg", { title }, buttons);
  const set = (value) => {
    for (const b of buttons) b.classList.toggle("on", b.dataset.value === String(value));
  };
  return { el, set };
}

/** Offer `text` as a file download. */
export function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
