"""The ``gamedyn`` command: one sub-command per module in ``COMMANDS``.

Each command module gives ``HELP``, ``DESCRIPTION``, ``add_arguments(parser)``
and ``main(args) -> exit status``, and splits its work into a pure
``compute(...) -> results`` and ``report(results, out)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

__all__ = ["main", "build_parser", "COMMANDS", "default_cache_dir"]

# name -> module (imported when the parser is built)
COMMANDS = {
    "compare": "experiments.compare",
    "rates": "experiments.rates",
    "adversarial": "experiments.adversarial",
    "gan": "experiments.gan",
    "ho": "experiments.ho",
    "lyapunov": "experiments.lyapunov",
    "grr": "experiments.grr",
    "sweep": "experiments.sweep",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gamedyn", description="Simulate and analyse learning dynamics in games.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        _add_cache_options(p)
        p.set_defaults(_main=mod.main)
    return parser


def default_cache_dir() -> str:
    """``$JAX_COMPILATION_CACHE_DIR`` if set, else ``gamedyn/jax`` under the user's
    cache directory (``$XDG_CACHE_HOME``, default ``~/.cache``)."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return os.environ["JAX_COMPILATION_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gamedyn", "jax")


def _add_cache_options(p) -> None:
    g = p.add_argument_group("compilation cache")
    g.add_argument("--cache-dir", metavar="DIR", default=None,
                   help="keep compiled programs here, so a second run skips compiling "
                   f"(default {default_cache_dir()})")
    g.add_argument("--no-cache", action="store_true",
                   help="compile everything afresh, keep nothing")


def _enable_cache(args) -> None:
    import jax
    if args.no_cache:
        jax.config.update("jax_compilation_cache_dir", None)
        jax.config.update("jax_enable_compilation_cache", False)
        return
    jax.config.update("jax_compilation_cache_dir", args.cache_dir or default_cache_dir())
    # Small programs too: a command compiles dozens of them, each well under 1 s.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:            # --help, or bad options (argparse says why)
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    import jax
    # Analysis tables want distances down to 1e-6 and rates to many digits.
    jax.config.update("jax_enable_x64", True)
    _enable_cache(args)
    from experiments._rundir import Interrupted
    from experiments.registry import UsageError
    try:
        return args._main(args)
    except UsageError as err:
        print(f"gamedyn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted) as err:
        signum = err.args[0] if isinstance(err, Interrupted) and err.args else 2
        print(f"gamedyn {args.command}: interrupted; --out holds the previous complete "
              f"results (or the new ones, if the run had already finished), never a mix.",
              file=sys.stderr)
        return 128 + int(signum)


if __name__ == "__main__":
    sys.exit(main())
