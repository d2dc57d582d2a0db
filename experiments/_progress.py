"""A dependency-free progress bar on stderr."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """``with Progress(total, "compare") as bar: ... bar.update(label)``.

    Draws on a terminal only (redrawn at most 10 times a second); elsewhere it
    stays silent so logs and CI output are not flooded.
    """

    def __init__(self, total: int, desc: str, stream=None, width: int = 28):
        self.total, self.desc, self.width = max(int(total), 1), desc, width
        self.stream = sys.stderr if stream is None else stream
        self.enabled = getattr(self.stream, "isatty", lambda: False)()
        self.done, self.start, self.last = 0, time.perf_counter(), 0.0

    def __enter__(self):
        self._draw("")
        return self

    def update(self, label: str = "", n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        now = time.perf_counter()
        if now - self.last > 0.1 or self.done == self.total:
            self._draw(label)
            self.last = now

    def _draw(self, label: str) -> None:
        if not self.enabled:
            return
        frac = self.done / self.total
        fill = int(frac * self.width)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        eta_s = f"{eta:5.0f}s left" if frac > 0 and frac < 1 else f"{elapsed:5.1f}s"
        line = (f"\r{self.desc} [{'#' * fill}{'.' * (self.width - fill)}] "
                f"{self.done}/{self.total} {eta_s} {label[:30]:<30}")
        self.stream.write(line)
        self.stream.flush()

    def __exit__(self, *exc):
        if self.enabled:
            self.stream.write("\r" + " " * (self.width + 80) + "\r")
            self.stream.flush()
        return False
