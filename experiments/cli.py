"""The ``gamedyn`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from experiments import compare
    from experiments.registry import DYNAMICS, GAMES

    parser = argparse.ArgumentParser(
        prog="gamedyn", description="Simulate and analyse learning dynamics in games.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("compare", help="predicted vs measured convergence rates",
                       description="Run dynamics on games from one start; print the "
                       "predicted rate (spectral radius at the equilibrium), the measured "
                       "rate, steps to distance 1e-6 and the final distance.")
    p.add_argument("--game", action="append", metavar="NAME",
                   help=f"game(s), comma-separated or repeated; one of {', '.join(GAMES)} "
                   f"(default: {','.join(compare.DEFAULT_GAMES)})")
    p.add_argument("--dynamics", action="append", metavar="NAME",
                   help=f"dynamics, comma-separated or repeated; one of {', '.join(DYNAMICS)} "
                   f"(default: {','.join(compare.DEFAULT_DYNAMICS)})")
    p.add_argument("--steps", type=int, default=4000, help="steps per run (default 4000)")
    p.add_argument("--lr", type=float, default=0.2, help="step size (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the start (default 0)")
    p.add_argument("--out", default="runs/compare", help="output folder (default runs/compare)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")

    from experiments import rates
    rates.add_arguments(sub.add_parser(
        "rates", help="rate heatmaps of complex momentum over arg(beta) x |beta|",
        description="Steps to converge for complex momentum over a grid of beta, from the "
        "spectral radius (fine grid) and from simulation (coarse grid)."))
    from experiments import adversarial
    adversarial.add_arguments(sub.add_parser(
        "adversarial", help="gradient evaluations to converge vs adversarialness",
        description="Tune GDA, EG, OG, real and complex momentum on the adversarialness "
        "family and compare the gradient evaluations they need."))
    from experiments import gan
    gan.add_arguments(sub.add_parser(
        "gan", help="train a GAN on 2-D mixtures with Adam, momentum, complex momentum and "
        "complex Adam", description="Train the 2-D mixture GAN with each optimiser over "
        "several seeds; report modes covered and the share of high-quality samples."))
    return parser


def _compare(args) -> int:
    from experiments import compare
    from experiments.registry import DYNAMICS, GAMES, UsageError, resolve

    game_names = resolve("game", args.game or compare.DEFAULT_GAMES, GAMES)
    dyn_names = resolve("dynamics", args.dynamics or compare.DEFAULT_DYNAMICS, DYNAMICS)
    if args.steps < 10:
        raise UsageError(f"--steps must be at least 10 to fit a rate; got {args.steps}.")
    if not args.lr > 0:
        raise UsageError(f"--lr must be positive; got {args.lr}. Try --lr 0.1.")
    compare.run(game_names, dyn_names, steps=args.steps, lr=args.lr, seed=args.seed,
                out=args.out, plots=not args.no_plots)
    return 0


def _rates(args) -> int:
    from experiments import rates
    return rates.main(args)


def _adversarial(args) -> int:
    from experiments import adversarial
    return adversarial.main(args)


def _gan(args) -> int:
    from experiments import gan
    return gan.main(args)


COMMANDS = {"compare": _compare, "rates": _rates, "adversarial": _adversarial, "gan": _gan}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    import jax
    # Analysis tables want distances down to 1e-6 and rates to many digits.
    jax.config.update("jax_enable_x64", True)
    from experiments.registry import UsageError
    try:
        return COMMANDS[args.command](args)
    except UsageError as err:
        print(f"gamedyn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
