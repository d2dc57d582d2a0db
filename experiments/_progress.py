"""Progress bars (tqdm.auto: a text bar on a terminal, a widget in notebooks) and
partial results while a run is going."""

from __future__ import annotations

import contextlib

from experiments import _io

__all__ = ["progress_bar", "partial_writer"]


class _Bar:
    def __init__(self, bar):
        self.bar = bar

    def step(self, label: str = "", n: int = 1) -> None:
        """Advance by ``n`` units and show ``label`` beside the bar."""
        self.bar.set_postfix_str(str(label)[:30], refresh=False)
        self.bar.update(n)

    def write(self, text: str) -> None:
        """Print ``text`` to stdout above the bar."""
        import sys
        self.bar.write(text, file=sys.stdout)

    def to(self, done: int, label: str = "") -> None:
        """Set the bar to ``done`` units."""
        self.bar.set_postfix_str(str(label)[:30], refresh=False)
        self.bar.update(int(done) - self.bar.n)


@contextlib.contextmanager
def progress_bar(total: int, desc: str, unit: str = "run"):
    """``with progress_bar(n, "compare") as bar: ... bar.step(label)``.

    Shown on a terminal or in a notebook only (``disable=None``), so logs and CI
    output are not flooded.
    """
    from tqdm.auto import tqdm
    bar = tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False,
               dynamic_ncols=True)
    try:
        yield _Bar(bar)
    finally:
        bar.close()


def partial_writer(folder):
    """A ``checkpoint(results)`` that writes results.json marked ``complete: false``
    into the run's (temporary) folder, so a run killed outright leaves marked
    partial results, never unmarked ones."""
    def checkpoint(results: dict) -> None:
        _io.write_json(folder / "results.json",
                       {**{k: v for k, v in results.items() if k != "arrays"},
                        "complete": False})
    return checkpoint
