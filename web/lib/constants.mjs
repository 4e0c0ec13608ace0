// Shared constants of the caption format (SPEC §6) and of the editor.

/** Name of the node's STRING widget that stores the editor document (JSON text, see document.js). */
export const DOCUMENT_WIDGET = "document";

/** The node's optional IMAGE input shown under the canvas. */
export const REFERENCE_INPUT = "reference_image";

/** Node type the editor attaches to. */
export const NODE_TYPE = "IG4_CaptionBuilder";

/** Route that validates, repairs and canonicalises a caption on the server. */
export const CHECK_ROUTE = "/ideogram4/caption/check";

/** Route that writes a full caption from a one-line idea (Magic Prompt). */
export const MAGIC_ROUTE = "/ideogram4/magic_prompt";

/** Box coordinates are integers in [0, COORD_MAX], order [y_min, x_min, y_max, x_max]. */
export const COORD_MAX = 1000;

export const MAX_STYLE_COLORS = 16;
export const MAX_ELEMENT_COLORS = 5;
export const MAX_TOKENS = 2048;

export const TOP_KEYS = ["high_level_description", "style_description", "compositional_deconstruction"];
export const COMPOSITION_KEYS = ["background", "elements"];
