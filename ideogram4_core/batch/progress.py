"""The batch progress bar: images done of the images to render, ETA, and images per minute (tqdm)."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class BatchProgress:
    """Counts finished images (rendered or failed) and shows the rendering rate in images per minute."""

    def __init__(self, total: int, *, enabled: bool = True) -> None:
        self._bar = tqdm(total=total, unit="img", file=sys.stderr, disable=not enabled or total == 0,
                         dynamic_ncols=True, mininterval=0.5)  # fmt: skip
        self._began = time.perf_counter()
        self.rendered = 0

    def advance(self, rendered: bool) -> None:
        self.rendered += rendered
        self._bar.set_postfix_str(f"{self.images_per_minute():.1f} img/min", refresh=False)
        self._bar.update(1)

    def images_per_minute(self) -> float:
        return 60.0 * self.rendered / max(time.perf_counter() - self._began, 1e-9)

    def close(self) -> None:
        self._bar.close()
