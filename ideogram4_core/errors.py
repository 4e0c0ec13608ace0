"""User-facing errors: one clear sentence naming the problem and the fix."""


class Ideogram4Error(ValueError):
    """A problem the user can fix (bad input, wrong file, unsupported setting).

    The CLI prints these as a single line without a traceback; ComfyUI nodes let them propagate so the
    executor reports them on the node.
    """


class ModelFileError(Ideogram4Error):
    """A model file or folder is missing, broken, or not what it was expected to be."""


class CaptionError(Ideogram4Error):
    """A caption cannot be used (empty, too long, invalid)."""
