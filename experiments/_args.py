"""argparse types that check range and finiteness, so bad numbers exit 2 before any work."""

from __future__ import annotations

import argparse
import math

__all__ = ["int_in", "float_in", "as_usage_error", "SEED_MAX"]

SEED_MAX = 2**32 - 1      # jax.random.key takes a uint32 seed without x64


def int_in(low: int, high: int):
    """An argparse ``type``: an int in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer; got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low}, {high}]; got "
                                             f"{text}")
        return value
    parse.__name__ = "int"
    return parse


def float_in(low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    """An argparse ``type``: a finite float in [low, high] (ends open when asked)."""
    lo, hi = "(" if low_open else "[", ")" if high_open else "]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
        ok = math.isfinite(value) and (value > low if low_open else value >= low) \
            and (value < high if high_open else value <= high)
        if not ok:
            raise argparse.ArgumentTypeError(
                f"must be a finite number in {lo}{low:g}, {high:g}{hi}; got {text}")
        return value
    parse.__name__ = "float"
    return parse


def as_usage_error(check, *args, **kwargs):
    """``check(*args, **kwargs)``, its ValueError/TypeError turned into a UsageError
    (exit 2) for arguments that come from the command line."""
    from experiments.registry import UsageError
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from None
