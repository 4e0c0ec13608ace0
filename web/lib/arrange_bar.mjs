// Arrange row: align, distribute, equal spacing, lock, hide, copy and paste as buttons. Each button runs the
// shortcut table's action of the same name, so the button, its key and the help popover never disagree.

import { h } from "./dom.mjs";
import { SHORTCUTS } from "./shortcuts.mjs";

const BUTTONS = [
  ["Align left", "⇤"],
  ["Align horizontal centres", "↔"],
  ["Align right", "⇥"],
  ["Align top", "⤒"],
  ["Align vertical middles", "↕"],
  ["Align bottom", "⤓"],
  ["Distribute centres horizontally", "⋯"],
  ["Distribute centres vertically", "⋮"],
  ["Equal horizontal spacing", "|↔|"],
  ["Equal vertical spacing", "|↕|"],
  null,
  ["Lock / unlock", "🔒"],
  ["Hide / show", "👁"],
  null,
  ["Copy (caption JSON, pastes into another builder)", "Copy"],
  ["Paste", "Paste"],
];

export function arrangeBar(ctx) {
  const byLabel = new Map(SHORTCUTS.map(([keys, label, run]) => [label, { keys, run }]));
  const buttons = BUTTONS.map((entry) => {
    if (!entry) return h("span.ig4-sep");
    const [label, glyph] = entry;
    const { keys, run } = byLabel.get(label);
    const name = label.replace(/ \(.*\)$/, "");
    return h("button.ig4-btn.ig4-arrange-btn", {
      type: "button",
      textContent: glyph,
      title: `${name} (${keys.replaceAll("Mod", "Ctrl")})`,
      "aria-label": name,
      on: { click: () => run(ctx) },
    });
  });
  return h("div.ig4-arrange", { role: "toolbar", "aria-label": "Arrange" }, h("span.ig4-dim", {}, "Arrange"), buttons);
}
