"""The ``gamedyn`` command: one sub-command per module in ``COMMANDS``.

Each command module gives ``HELP``, ``DESCRIPTION``, ``add_arguments(parser)``
and ``main(args) -> exit status``, and splits its work into a pure
``compute(...) -> results`` and ``report(results, out)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser", "COMMANDS"]

# name -> module (imported when the parser is built)
COMMANDS = {
    "compare": "experiments.compare",
    "rates": "experiments.rates",
    "adversarial": "experiments.adversarial",
    "gan": "experiments.gan",
    "ho": "experiments.ho",
    "lyapunov": "experiments.lyapunov",
    "grr": "experiments.grr",
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
        p.set_defaults(_main=mod.main)
    return parser


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
