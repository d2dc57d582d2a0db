"""`gamedyn grr`: Generalized Ridge Rider on the IPD, the small IPD or their mixture.

Runs ``search.grr`` from one start with simultaneous GD or LOLA as the base
learner, prints the distinct solutions (per-step losses, the policies' classes,
how each was found) beside what the base learner alone reaches from the same
start, and writes the search tree as JSON (``search.SearchTree.load`` reads it
back, and ``--resume`` continues a search) and as a PNG drawing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import games
import search
from experiments import _io
from experiments._args import SEED_MAX, float_in, int_in
from experiments._progress import progress_bar
from experiments._rundir import output_folder
from experiments.lyapunov import DYNAMICS, _pair, make_dynamics
from experiments.registry import UsageError

__all__ = ["GAMES", "DEFAULTS", "compute", "report", "add_arguments", "main"]

GAMES = {
    "small_ipd": "the small IPD (one cooperation logit per player, discount 0.9)",
    "ipd": "the exact IPD (5 logits per player, discount 0.96)",
    "mix": "tau * matching pennies + (1 - tau) * small IPD (--tau)",
}
# base-learner steps to convergence and solution tolerance (|xi| and the step
# map's radius - 1), per dynamics: LOLA's steps cost more, so it runs fewer and
# stops further from its limit
STEPS = {"simgd": 2000, "lola": 500}
TOL = {"simgd": 1e-2, "lola": 2e-2}
DEFAULTS = dict(game="small_ipd", dynamics="simgd", tau=0.95, lr=1.0, depth=1, branches=1,
                eps=0.1, start=None, seed=0, out="runs/grr")


def _game(name, tau):
    if name == "small_ipd":
        return games.small_ipd()
    if name == "ipd":
        return games.ipd()
    return games.mix(games.matching_pennies(), games.small_ipd(), tau)


def _classes(game, params) -> list[str]:
    """Each player's policy class (IPD-like games), by exact per-step losses."""
    if isinstance(game, games.SmallIPD):
        return [games.ipd_policy_class(x, game.ipd) for x in game.full_logits(params)]
    if isinstance(game, games.MixedGame):
        small = game.game_b
        return [games.ipd_policy_class(x, small.ipd) for x in small.full_logits(params)]
    return [games.ipd_policy_class(x, game) for x in params]


@jax.jit
def _per_step_losses(game, params):
    return game.per_step_losses(params)


def _per_step(game, params) -> list[float]:
    base = game.game_b if isinstance(game, games.MixedGame) else game
    return [float(v) for v in _per_step_losses(base, params)]


def compute(game: str = DEFAULTS["game"], dyn: str = DEFAULTS["dynamics"], *,
            tau: float = DEFAULTS["tau"], lr: float = DEFAULTS["lr"],
            depth: int = DEFAULTS["depth"], branches: int = DEFAULTS["branches"],
            eps: float = DEFAULTS["eps"], start=DEFAULTS["start"], seed: int = DEFAULTS["seed"],
            tree: search.SearchTree | None = None, progress=None, checkpoint=None) -> dict:
    """Run the search; returns results.json's content with the tree under ``"tree"``."""
    if game not in GAMES:
        raise UsageError(f"unknown game {game!r}; choose from {', '.join(GAMES)}.")
    g, d = _game(game, tau), make_dynamics(dyn, lr)
    key = jax.random.key(seed)
    if start is None:
        params = (g.init(key) if game == "ipd"
                  else (jnp.asarray(1.0), jnp.asarray(1.0)))
    else:
        if game == "ipd":
            raise UsageError("--start sets one logit per player: for the small IPD and the "
                             "mixture; the IPD starts from --seed.")
        params = tuple(jnp.asarray(float(v)) for v in start)
    t0 = time.perf_counter()
    try:
        tree = search.grr(g, d, params, key=key, max_depth=depth, num_branches=branches,
                          eps=eps, steps=STEPS[dyn], tol=TOL[dyn], tree=tree,
                          progress=progress, checkpoint=checkpoint)
    except ValueError as err:         # e.g. --resume with a tree of another search
        raise UsageError(str(err)) from None
    seconds = time.perf_counter() - t0
    nodes = []
    for n, attrs in tree.graph.nodes(data=True):
        p = tree.params(n)
        finite = attrs["losses"] is not None and all(v is not None for v in attrs["losses"])
        nodes.append({"node": n, "depth": attrs["depth"], "found_by": attrs["found_by"],
                      "parent": next(iter(tree.graph.predecessors(n)), None),
                      "is_solution": bool(attrs["is_solution"]),
                      "per_step_losses": _per_step(g, p) if finite else None,
                      "classes": _classes(g, p) if finite else None,
                      "grad_norm": attrs["grad_norm"]})
    distinct = []
    for p in tree.solutions(space="policy"):
        distinct.append({"per_step_losses": _per_step(g, p), "classes": _classes(g, p),
                         "params": search.encode_params(tuple(p))})
    alone = next((r for r in nodes if r["node"] == 1), None)
    return {"command": "grr", "complete": True,
            "options": {"game": game, "dynamics": dyn, "tau": tau, "lr": lr, "depth": depth,
                        "branches": branches, "eps": eps,
                        "start": None if start is None else list(start), "seed": seed,
                        "steps": STEPS[dyn], "tol": TOL[dyn]},
            "environment": _io.environment(),
            "game": {"name": game, "description": GAMES[game]},
            "dynamics": {"name": dyn, "description": DYNAMICS[dyn]},
            "start": search.encode_params(tuple(tree.params(0))),
            "base_learner_alone": alone, "nodes": nodes, "solutions": distinct,
            "seconds": seconds, "tree": tree}


def format_table(res: dict) -> str:
    o = res["options"]
    lines = [f"== grr on {res['game']['description']}; base learner "
             f"{res['dynamics']['description']} (lr {o['lr']:g}); depth {o['depth']}, "
             f"{o['branches']} direction(s) a branch point, eps {o['eps']:g} ==",
             f"{'node':>4} {'depth':>5} {'parent':>6}  {'per-step losses':<18}{'classes':<28}"
             f"{'solution':<9} found by"]
    for r in res["nodes"]:
        losses = ("-" if r["per_step_losses"] is None else
                  ", ".join(f"{v:.3f}" for v in r["per_step_losses"]))
        classes = "-" if r["classes"] is None else ", ".join(r["classes"])
        parent = "-" if r["parent"] is None else str(r["parent"])
        how = "start" if r["node"] == 0 else (
            f"{r['found_by']} from the start" if r["node"] == 1 else
            f"{r['found_by']} after branching")
        lines.append(f"{r['node']:>4} {r['depth']:>5} {parent:>6}  {losses:<18}{classes:<28}"
                     f"{'yes' if r['is_solution'] else 'no':<9} {how}")
    a = res["base_learner_alone"] or {"classes": None}
    lines.append(f"{len(res['solutions'])} distinct solution(s) (policy space): " + "; ".join(
        f"({', '.join(s['classes'])}) per-step "
        f"{', '.join(f'{v:.2f}' for v in s['per_step_losses'])}" for s in res["solutions"]))
    alone = ", ".join(a["classes"] or [])
    lines.append(f"{res['dynamics']['name']} alone from the start: ({alone})")
    return "\n".join(lines)


def _plot(res: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    graph = res["tree"].graph
    layers: dict[int, list[int]] = {}
    for n, attrs in graph.nodes(data=True):
        layers.setdefault(attrs["depth"], []).append(n)
    pos = {n: ((i + 1) / (len(ns) + 1), -depth) for depth, ns in layers.items()
           for i, n in enumerate(sorted(ns))}
    by_node = {r["node"]: r for r in res["nodes"]}
    colour = {"tit_for_tat": "tab:green", "defect": "tab:red", "cooperate": "tab:blue"}
    colors = [colour.get((by_node[n]["classes"] or ["other"])[0], "0.6") for n in graph]
    labels = {n: f"{n}\n" + ("-" if by_node[n]["per_step_losses"] is None else
                            "/".join(f"{v:.2f}" for v in by_node[n]["per_step_losses"]))
              for n in graph}
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * max(len(v) for v in layers.values())), 3.5))
    nx.draw_networkx(graph, pos, ax=ax, node_color=colors, labels=labels, font_size=7,
                     node_size=900, arrows=True)
    ax.set_title(f"grr search tree: {res['options']['game']}, {res['options']['dynamics']} "
                 "(green tit-for-tat-like, red defect; per-step losses)", fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    _io.write_png(path, fig)
    plt.close(fig)


def report(res: dict, out, *, plots: bool = True, echo=print) -> list[str]:
    out = Path(out)
    echo(format_table(res))
    res["tree"].save(out / "tree.json")
    written = ["results.json", "tree.json"]
    if plots:
        _plot(res, out / "tree.png")
        written.append("tree.png")
    _io.write_json(out / "results.json", {k: v for k, v in res.items() if k != "tree"})
    return written


HELP = "Generalized Ridge Rider: diverse solutions of the (small) IPD by branching"
DESCRIPTION = __doc__.split("\n\n")[1]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = DEFAULTS
    parser.add_argument("--game", default=d["game"], choices=GAMES,
                        help=f"the game (default {d['game']}): " + "; ".join(
                            f"{k}: {v}" for k, v in GAMES.items()))
    parser.add_argument("--dynamics", default=d["dynamics"], choices=DYNAMICS,
                        help=f"the base learner (default {d['dynamics']}; it runs "
                        f"{STEPS['simgd']} steps for simgd, {STEPS['lola']} for lola; a node "
                        f"is a solution when |xi| and its step map's radius - 1 are at most "
                        f"{TOL['simgd']:g} for simgd, {TOL['lola']:g} for lola)")
    parser.add_argument("--tau", type=float_in(0, 1), default=d["tau"],
                        help=f"mix: weight of matching pennies (default {d['tau']})")
    parser.add_argument("--lr", type=float_in(0, 100, low_open=True), default=d["lr"],
                        help=f"step size (default {d['lr']})")
    parser.add_argument("--depth", type=int_in(1, 6), default=d["depth"],
                        help=f"levels of branching (default {d['depth']})")
    parser.add_argument("--branches", type=int_in(1, 16), default=d["branches"],
                        help=f"directions per branch point, each taken with + and - "
                        f"(default {d['branches']})")
    parser.add_argument("--eps", type=float_in(0, 10, low_open=True), default=d["eps"],
                        help=f"step off the branch point (default {d['eps']})")
    parser.add_argument("--start", type=_pair, default=d["start"],
                        help="start 'a,b' for small_ipd and mix (default 1,1); the IPD "
                        "starts from --seed")
    parser.add_argument("--seed", type=int_in(0, SEED_MAX), default=d["seed"],
                        help="seed of the IPD's start and the exponents' frames (default 0)")
    parser.add_argument("--resume", metavar="TREE_JSON",
                        help="continue the search saved in this tree.json (e.g. with a "
                        "larger --depth)")
    parser.add_argument("--out", default=d["out"], help=f"output folder (default {d['out']})")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG")
    return parser


def main(args: argparse.Namespace) -> int:
    tree = None
    if args.resume:
        try:
            tree = search.SearchTree.load(args.resume)
        except ValueError as err:
            raise UsageError(str(err)) from None
    # Checkpoints live beside --out, not in its hidden run folder (removed when a
    # run is interrupted), so an interrupted search can be resumed.
    out = Path(args.out)
    saved = out.with_name(f"{out.name}.checkpoint.json")
    try:
        with output_folder(args.out) as tmp:
            with progress_bar(1, "grr", unit="node") as bar:
                def progress(done, total):
                    bar.bar.total = total
                    bar.to(done)
                res = compute(args.game, args.dynamics, tau=args.tau, lr=args.lr,
                              depth=args.depth, branches=args.branches, eps=args.eps,
                              start=args.start, seed=args.seed, tree=tree,
                              progress=progress, checkpoint=lambda t: t.save(saved))
            written = report(res, tmp, plots=not args.no_plots)
    except BaseException:
        if saved.exists():
            print(f"the search so far is saved in {saved}: continue it with --resume "
                  f"{saved}", file=sys.stderr)
        raise
    saved.unlink(missing_ok=True)
    print(f"wrote {', '.join(written)} under {args.out}/")
    return 0
