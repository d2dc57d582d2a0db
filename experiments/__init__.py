"""The ``gamedyn`` command line and the recipes that reproduce the thesis' figures."""

__all__ = ["main"]


def main(argv=None) -> int:
    from experiments.cli import main as _main
    return _main(argv)
