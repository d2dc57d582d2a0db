"""Ridge Rider and Generalized Ridge Rider: branching searches for diverse solutions.

Ridge Rider (Parker-Holder et al. 2020) branches a single loss at a saddle along
the Hessian's eigenvectors of negative eigenvalue and follows each "ridge".  Its
criterion generalises to games as a *real* negative eigenvalue of the game
Jacobian J (for one player J is the Hessian): a saddle.  A rotational
bifurcation, where J's eigenvalues are complex and the dynamics spiral out
before the trajectories part, has no such eigenvalue, so the criterion misses
it.  Generalized Ridge Rider (Lorraine et al. 2022) branches wherever nearby
trajectories separate: it ascends the top Lyapunov exponent of the learning
dynamics to a bifurcation, steps off it along J's leading eigenvectors (real
and imaginary parts of complex ones), runs the base dynamics to convergence on
every branch of a level at once (``jax.vmap``), and recurses.

References:
  Parker-Holder, Metz, Resnick, Hu, Lerer, Letcher, Peysakhovich, Pacchiano &
  Foerster (2020), "Ridge Rider: Finding Diverse Solutions by Following
  Eigenvectors of the Hessian", NeurIPS.
  Lorraine, Vicol, Parker-Holder, Kachman, Metz & Foerster (2022), "Lyapunov
  Exponents for Diversity in Differentiable Games", AAMAS.
"""

from __future__ import annotations

import functools
import hashlib
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import dynamics
import games
from games.checks import check_key, check_positive
from search._tree import SearchTree, encode_params

__all__ = ["grr", "ridge_rider", "saddle_directions", "branch_directions"]

_REAL = 1e-9       # |Im eig| below this (relative to |eig|) counts as real


def _jacobian(game, params) -> np.ndarray:
    return np.asarray(_jit_jacobian(game, params), float)


_jit_jacobian = jax.jit(games.jacobian)


def _pairs(ev) -> list:
    return [[float(np.real(e)), float(np.imag(e))] for e in np.atleast_1d(ev)]


def saddle_directions(game, params, num: int | None = None):
    """Ridge Rider's branch directions: eigenvectors of the game Jacobian J with
    *real* negative eigenvalues, most negative first (for a one-player game, the
    Hessian's negative-curvature directions).  Returns ``(eigenvalues, directions)``
    with directions shaped like ``params``; empty where J has none (a minimum, or
    a rotational point whose eigenvalues are complex)."""
    if num is not None:
        num = _count("num", num)
    flat, unravel = ravel_pytree(params)
    jac = _jacobian(game, params)
    ev, vec = np.linalg.eig(jac)
    real = np.abs(ev.imag) <= _REAL * np.maximum(1.0, np.abs(ev))
    idx = [k for k in np.argsort(ev.real) if real[k] and ev.real[k] < 0]
    if num is not None:
        idx = idx[:num]
    dirs = [unravel(jnp.asarray(np.real(vec[:, k]) / np.linalg.norm(np.real(vec[:, k])),
                                flat.dtype)) for k in idx]
    return ev[idx].real, dirs


def branch_directions(game, params, num: int):
    """GRR's branch directions at a bifurcation: eigenvectors of the game
    Jacobian J ordered by increasing real part of the eigenvalue (most repelling
    for gradient dynamics first); a complex eigenvector contributes its real part
    and, when that repeats a direction already taken (its conjugate's), its
    imaginary part.  Returns ``(eigenvalues, directions)``, ``num`` of each at most,
    directions unit vectors shaped like ``params``."""
    num = _count("num", num)
    flat, unravel = ravel_pytree(params)
    ev, vec = np.linalg.eig(_jacobian(game, params))
    taken, values = [], []
    for k in np.argsort(ev.real, kind="stable"):
        for part in (np.real(vec[:, k]), np.imag(vec[:, k])):
            norm = np.linalg.norm(part)
            if norm < 1e-8:
                continue
            d = part / norm
            if any(abs(d @ t) > 0.99 for t in taken):
                continue
            taken.append(d)
            values.append(ev[k])
            break
        if len(taken) == num:
            break
    return np.asarray(values), [unravel(jnp.asarray(d, flat.dtype)) for d in taken]


def _count(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    return int(value)


def _positive(name, value):
    return float(check_positive(name, value))


def _fingerprint(*trees) -> str:
    """A short hash of the values (not the functions) in some pytrees."""
    h = hashlib.sha1()
    for leaf in jax.tree_util.tree_leaves(trees):
        if jnp.issubdtype(jnp.result_type(leaf), jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _identity(game, dyn, key=None) -> dict:
    """What a resumed search must share with the one that saved the tree."""
    out = {"game": f"{type(game).__name__}:{_fingerprint(game)}",
           "dynamics": f"{_name(dyn)}:{_fingerprint(dyn)}"}
    if key is not None:
        out["key"] = _fingerprint(key)
    return out


@jax.jit
def _losses_and_xi(game, params):
    return game.losses(params), ravel_pytree(games.simultaneous_gradient(game, params))[0]


def _node_record(game, dyn, params, tol):
    losses, xi = _losses_and_xi(game, params)
    losses = np.asarray(losses, float)
    norm = float(np.linalg.norm(np.asarray(xi)))
    finite = bool(np.isfinite(losses).all() and np.isfinite(norm))
    record = {"losses": [float(x) if np.isfinite(x) else None for x in losses],
              "grad_norm": norm if np.isfinite(norm) else None, "is_solution": False}
    if finite:
        record["eigenvalues"] = _pairs(np.linalg.eigvals(_jacobian(game, params)))
        # stationary, and a point the learner stays at: its step map's spectral
        # radius at most 1 + tol (a saddle, or a rotational point simGD spirals out
        # of, is not a solution)
        radius = float(_jit_radius(game, dyn, params))
        record["step_radius"] = radius
        record["is_solution"] = bool(norm <= tol and radius <= 1 + tol)
    return record


_jit_radius = jax.jit(dynamics.spectral_radius)


@functools.partial(jax.jit, static_argnames="steps")
def _run_to_convergence(game, dyn, starts, steps):
    """Evolve a stack of starts (leading axis) for ``steps`` steps together: one
    program per shape, reused by every level and node."""
    def one(p):
        traj = dynamics.simulate(game, dyn, p, steps, every=steps, metrics=(),
                                 record_params=False)
        return traj.final.params, traj.diverged_at
    return jax.vmap(one)(starts)


def _stack(points):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *points)


def _unstack(tree, n):
    return [jax.tree_util.tree_map(lambda x, i=i: x[i], tree) for i in range(n)]


def _progress_fn(progress, desc):
    """``(advance(done, total), close())`` for ``progress=True`` (a tqdm bar) or a
    callable ``progress(done, total)``; the total grows as levels are added."""
    if progress is True:
        from tqdm.auto import tqdm
        bar = tqdm(total=1, desc=desc, unit="node", leave=False, disable=None)

        def advance(done, total):
            bar.total = total
            bar.update(done - bar.n)
        return advance, bar.close
    if callable(progress):
        return progress, (lambda: None)
    return (lambda done, total: None), (lambda: None)


def _start_tree(tree, game, dyn, params, tol, settings):
    if tree is None:
        tree = SearchTree(**settings)
        tree.add_root(params, found_by="start", **_node_record(game, dyn, params, tol))
        return tree
    if not isinstance(tree, SearchTree):
        raise TypeError(f"tree must be a search.SearchTree (e.g. SearchTree.load(path)) to "
                        f"resume, or None; got {type(tree).__name__}.")
    if not len(tree):
        raise ValueError("the tree to resume is empty; pass tree=None to start a search.")
    saved = tree.graph.graph
    # A mixed tree would report solutions judged under other settings as its own.
    differ = [f"{k}: saved {saved[k]!r}, now {v!r}" for k, v in settings.items()
              if k in saved and saved[k] != v]
    if differ:
        raise ValueError("this tree was saved by a different search (" + "; ".join(differ)
                         + "); resume with the same game, dynamics, key and settings (only "
                         "max_depth may grow), or start a new search.")
    games.check_params(game, tree.params(0))
    return tree


def grr(game, dyn, params, *, key, max_depth: int = 1, num_branches: int = 1,
        eps: float = 0.1, steps: int = 2000, tol: float = 1e-2, lyapunov_steps: int = 20,
        ascent_lr: float = 0.1, ascent_iters: int = 100, objective: str = "max",
        tree: SearchTree | None = None, progress=None, checkpoint=None) -> SearchTree:
    """Generalized Ridge Rider: branch at bifurcations found by ascending Lyapunov
    exponents, run the base dynamics on every branch, recurse.

    A new search first runs ``dyn`` for ``steps`` steps from ``params`` (the root's
    first child, edge sign 0: what the base learner finds without branching).
    Then, for each node not yet expanded, at depth below ``max_depth`` (level by
    level):

    1. ``dynamics.find_bifurcation`` from the node's point (``objective`` of the
       top exponent over ``lyapunov_steps`` steps of ``dyn``, ``ascent_iters``
       steps of size ``ascent_lr``, key folded with the node id);
    2. ``branch_directions`` of the game Jacobian there: the ``num_branches``
       leading ones;
    3. children start at the bifurcation +- ``eps`` along each, and all children of
       the level run ``steps`` steps of ``dyn`` together (``jax.vmap``);
    4. a child is a solution when finite with |xi| <= ``tol`` and the spectral
       radius of ``dyn``'s step map there at most 1 + ``tol`` (``dynamics.
       spectral_radius``): a point the learner stays at, not a saddle or a point
       it spirals out of.  The default ``tol`` 1e-2 allows for solutions with
       saturated policies (logits running off to infinity, as on the IPD and its
       mixtures), which gradient dynamics approach only like 1/t.

    Args:
      game, dyn: the game and the base learner (e.g. ``dynamics.simgd(1.0)`` or
        ``dynamics.lola(...)``).
      params: the start (the root).
      key: PRNG key for the exponents' initial frames.
      tree: a :class:`SearchTree` to resume (``SearchTree.load(path)``): its
        unexpanded nodes are expanded; ``params`` is then ignored.  A tree saved by
        another search (its game, ``dyn``, ``key`` or any setting but
        ``max_depth`` differ, as recorded in ``tree.graph.graph``) is refused.
      progress: ``True`` for a tqdm bar, or ``fn(done, total)`` over nodes.
      checkpoint: ``fn(tree)`` after each level (e.g. ``lambda t: t.save(path)``).

    Returns the :class:`SearchTree`; ``tree.solutions()`` lists the distinct
    solutions.  A diverged branch is recorded (``diverged_at``), not raised.

    References:
      Lorraine, Vicol, Parker-Holder, Kachman, Metz & Foerster (2022), "Lyapunov
      Exponents for Diversity in Differentiable Games", AAMAS.
    """
    games.check_params(game, params)
    if not isinstance(dyn, dynamics.Dynamics):
        raise TypeError(f"dyn must be a dynamics.Dynamics (e.g. dynamics.simgd(1.0)); got "
                        f"{type(dyn).__name__}.")
    check_key(key)
    max_depth, num_branches = _count("max_depth", max_depth), _count("num_branches",
                                                                      num_branches)
    steps, lyapunov_steps = _count("steps", steps), _count("lyapunov_steps", lyapunov_steps)
    ascent_iters = _count("ascent_iters", ascent_iters)
    eps, tol, ascent_lr = _positive("eps", eps), _positive("tol", tol), _positive(
        "ascent_lr", ascent_lr)
    settings = dict(method="grr", eps=eps, steps=steps, tol=tol, num_branches=num_branches,
                    lyapunov_steps=lyapunov_steps, ascent_lr=ascent_lr,
                    ascent_iters=ascent_iters, objective=objective,
                    **_identity(game, dyn, key))
    fresh = tree is None
    tree = _start_tree(tree, game, dyn, params, tol, settings)
    if fresh:
        # the base learner from the start itself: what a search without branching finds
        final, div = _run_to_convergence(game, dyn, _stack([tuple(params)]), steps)
        final = _unstack(final, 1)[0]
        tree.add_child(0, final, edge={"eigenvalue": None, "sign": 0, "eps": 0.0,
                                       "direction": None},
                       found_by=_name(dyn), diverged_at=None if int(div[0]) < 0
                       else int(div[0]), **_node_record(game, dyn, final, tol))
    frontier = tree.unexpanded(max_depth)
    total = len(frontier) * (1 + 2 * num_branches) if frontier else 0
    advance, close = _progress_fn(progress, "grr")
    done = 0
    try:
        while frontier:
            depth = min(tree.graph.nodes[n]["depth"] for n in frontier)
            level = [n for n in frontier if tree.graph.nodes[n]["depth"] == depth]
            starts, meta, expanded = [], [], []
            for node in level:
                p = tree.params(node)
                bif = dynamics.find_bifurcation(
                    game, dyn, p, objective=objective, steps=lyapunov_steps, lr=ascent_lr,
                    iters=ascent_iters, key=jax.random.fold_in(key, node))
                b = bif.params
                values, dirs = branch_directions(game, b, num_branches)
                # Marked expanded once its children are in (an interrupted level
                # leaves its nodes to expand again on resume).
                expanded.append((node, {
                    "expanded": True, "branch_point": encode_params(tuple(b)),
                    "exponents": [float(e) for e in np.asarray(bif.exponents)]}))
                for k, (value, d) in enumerate(zip(values, dirs)):
                    for sign in (1, -1):
                        starts.append(jax.tree_util.tree_map(
                            lambda x, y, s=sign: x + s * eps * y, b, d))
                        meta.append((node, {"eigenvalue": _pairs(value)[0], "sign": sign,
                                            "eps": eps, "direction": k}))
                done += 1
                advance(done, max(total, done))
            if starts:
                finals, diverged = _run_to_convergence(game, dyn, _stack(starts), steps)
                diverged = np.asarray(diverged)
                for (node, edge), final, div in zip(meta, _unstack(finals, len(starts)),
                                                    diverged):
                    record = _node_record(game, dyn, final, tol)
                    tree.add_child(node, final, edge=edge, found_by=_name(dyn),
                                   diverged_at=None if div < 0 else int(div), **record)
                    done += 1
                    advance(done, max(total, done))
            for node, attrs in expanded:
                tree.graph.nodes[node].update(attrs)
            if checkpoint is not None:
                checkpoint(tree)
            frontier = tree.unexpanded(max_depth)
            total = max(total, done + len(frontier) * (1 + 2 * num_branches))
    finally:
        close()
    return tree


def _name(dyn) -> str:
    step = getattr(dyn.step, "func", dyn.step)
    name = getattr(step, "__module__", "") or ""
    return name.rsplit(".", 1)[-1].lstrip("_") or "dynamics"


def ridge_rider(game, params, *, max_depth: int = 1, num_branches: int = 1,
                eps: float = 0.1, ride_lr: float = 0.05, ride_steps: int = 200,
                lr: float = 0.1, steps: int = 2000, tol: float = 1e-3,
                tree: SearchTree | None = None, checkpoint=None) -> SearchTree:
    """Ridge Rider on a one-player game (a single loss).

    At each node not yet expanded (depth below ``max_depth``): the Hessian's
    eigenvectors of negative eigenvalue (``saddle_directions``, the
    ``num_branches`` most negative); for each and each sign, step ``eps`` off the
    node along it, then *ride the ridge*: repeatedly step ``ride_lr`` along the
    Hessian eigenvector of greatest overlap with the previous direction (its
    sign kept), for at most ``ride_steps`` steps or until its eigenvalue is no
    longer negative; then descend with gradient descent (``lr``, ``steps``) to a
    solution (|gradient| <= ``tol``).  A node with no negative curvature is
    marked expanded with no children (the saddle criterion finds no branch).

    Returns a :class:`SearchTree` (resumable with ``tree=``).

    References:
      Parker-Holder, Metz, Resnick, Hu, Lerer, Letcher, Peysakhovich, Pacchiano &
      Foerster (2020), "Ridge Rider: Finding Diverse Solutions by Following
      Eigenvectors of the Hessian", NeurIPS.
    """
    games.check_params(game, params)
    if game.num_players != 1:
        raise ValueError(f"ridge_rider follows the Hessian of a single loss; this game has "
                         f"{game.num_players} players. Use search.grr for games (or "
                         f"search.saddle_directions for Ridge Rider's criterion on one).")
    max_depth, num_branches = _count("max_depth", max_depth), _count("num_branches",
                                                                      num_branches)
    ride_steps, steps = _count("ride_steps", ride_steps, 0), _count("steps", steps)
    eps, ride_lr, lr, tol = (_positive("eps", eps), _positive("ride_lr", ride_lr),
                             _positive("lr", lr), _positive("tol", tol))
    descend = dynamics.simgd(lr)
    settings = dict(method="ridge_rider", eps=eps, ride_lr=ride_lr, ride_steps=ride_steps,
                    lr=lr, steps=steps, tol=tol, num_branches=num_branches,
                    game=_identity(game, descend)["game"])
    tree = _start_tree(tree, game, descend, params, tol, settings)
    while frontier := tree.unexpanded(max_depth):
        for node in frontier:
            p = tree.params(node)
            values, dirs = saddle_directions(game, p, num_branches)
            children = []
            for k, (value, d) in enumerate(zip(values, dirs)):
                for sign in (1, -1):
                    theta = _ride(game, p, d, sign, eps, ride_lr, ride_steps)
                    final, div = _run_to_convergence(game, descend, _stack([theta]), steps)
                    final = _unstack(final, 1)[0]
                    children.append((final, {"eigenvalue": [float(value), 0.0], "sign": sign,
                                             "eps": eps, "direction": k},
                                     None if int(div[0]) < 0 else int(div[0])))
            for final, edge, div in children:       # all at once: no half-expanded node
                tree.add_child(node, final, edge=edge, found_by="ridge", diverged_at=div,
                               **_node_record(game, descend, final, tol))
            tree.graph.nodes[node].update(
                expanded=True, branch_point=encode_params(tuple(p)) if dirs else None)
        if checkpoint is not None:
            checkpoint(tree)
    return tree


def _ride(game, params, direction, sign, eps, ride_lr, ride_steps):
    flat0, unravel = ravel_pytree(params)
    e = sign * np.asarray(ravel_pytree(direction)[0], float)
    theta = np.asarray(flat0, float) + eps * e
    for _ in range(ride_steps):
        h = _jacobian(game, unravel(jnp.asarray(theta, flat0.dtype)))
        ev, vec = np.linalg.eigh(0.5 * (h + h.T))
        k = int(np.argmax(np.abs(vec.T @ e)))
        v = vec[:, k] * np.sign(vec[:, k] @ e)
        if ev[k] >= 0:
            break
        theta, e = theta + ride_lr * v, v
    return unravel(jnp.asarray(theta, flat0.dtype))
