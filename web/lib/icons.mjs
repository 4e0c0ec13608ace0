// Small stroke icons (16×16 SVG) so the UI does not depend on emoji fonts.

const PATHS = {
  undo: "M6 4 3 7l3 3M3.5 7H10a3 3 0 0 1 0 6H7",
  redo: "m10 4 3 3-3 3M12.5 7H6a3 3 0 0 0 0 6h3",
  up: "M8 13V3M4 7l4-4 4 4",
  down: "M8 3v10M4 9l4 4 4-4",
  duplicate: "M5.5 5.5h7v7h-7zM3.5 10.5v-7h7",
  trash: "M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5",
  copy: "M5.5 5.5h7v7h-7zM3.5 10.5v-7h7",
};

/** An inline SVG icon element. */
export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", "ig4-svg");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", PATHS[name]);
  svg.append(path);
  return svg;
}
