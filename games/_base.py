"""The n-player game interface and the derivatives every dynamics needs.

A game is a frozen dataclass registered as a JAX pytree: array fields (payoffs,
data) are leaves, sizes and callables are static.  ``Params`` is a tuple with
one pytree per player; player ``i`` minimises ``game.losses(params)[i]`` over
``params[i]``.  Parameters are real floating-point arrays.

Notation (used throughout gamedyn), for n players with parameters theta_i and
losses L_i, and omega = (theta_1, ..., theta_n) all parameters together:

    xi(omega) = (dL_1/dtheta_1, ..., dL_n/dtheta_n)    the simultaneous gradient
    J(omega)  = d xi / d omega                         the game Jacobian (d x d)

with d the total number of parameters.  J is the Jacobian of the simultaneous
*gradient* (not of the descent field -xi), so an equilibrium omega* (xi = 0)
at which every eigenvalue of J has a positive real part is locally attracting
for simultaneous gradient descent with a small enough step; purely imaginary
eigenvalues (e.g. +-i for L_1 = xy = -L_2) are rotations, which gradient
descent does not damp.

References:
  Balduzzi, Racanière, Martens, Foerster, Tuyls & Graepel (2018), "The
  Mechanics of n-Player Differentiable Games", ICML (xi and J, n-player games).
  Letcher, Balduzzi, Racanière, Martens, Foerster, Tuyls & Graepel (2019),
  "Differentiable Game Mechanics", JMLR.
  Mescheder, Nowozin & Geiger (2017), "The Numerics of GANs", NeurIPS (local
  convergence from the eigenvalues of J).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = [
    "Game",
    "Params",
    "register_game",
    "check_params",
    "player_gradient",
    "simultaneous_gradient",
    "unchecked_simultaneous_gradient",
    "jacobian",
    "jacobian_operator",
]

Params = tuple  # one pytree per player


class Game:
    """Base class of all games.  Subclasses are frozen dataclasses.

    Subclasses define ``num_players`` (static), ``losses(params)`` returning an
    array of shape ``(num_players,)`` (entry i is L_i, which player i
    minimises), ``init(key)`` returning a sensible random start (a Params tuple
    with one pytree per player, the shapes every dynamics keeps) and, when
    known, ``equilibrium()`` (a Params tuple with xi = 0, or None).  Register
    subclasses with :func:`register_game`.
    """

    num_players: int

    def losses(self, params: Params) -> jax.Array:
        raise NotImplementedError

    def init(self, key: jax.Array) -> Params:
        raise NotImplementedError

    def equilibrium(self) -> Params | None:
        return None


def register_game(cls):
    """Class decorator: frozen dataclass + pytree with the given static fields.

    Fields listed in the class attribute ``_static`` are meta (static) fields,
    all others are data (leaves), so a batch of games can be vmapped.  Class
    attributes without annotations (such as ``num_players = 2``) are not fields.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    static = tuple(getattr(cls, "_static", ()))
    names = [f.name for f in dataclasses.fields(cls)]
    return register_fields(cls, [n for n in names if n not in static],
                           [n for n in names if n in static])


def register_fields(cls, data_fields, meta_fields):
    """Register a frozen dataclass as a pytree: ``data_fields`` are leaves (with
    attribute key paths), ``meta_fields`` static.

    Not ``jax.tree_util.register_dataclass``: in jaxlib 0.10 the tree structures
    of two such classes with the same number of fields compare equal (while
    their hashes differ), so ``jax.jit`` could reuse one game's compiled program
    for another game when their cache keys happen to share a bucket.
    """
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    keys = tuple(jax.tree_util.GetAttrKey(n) for n in data_fields)

    def flatten_with_keys(obj):
        return (tuple(zip(keys, (getattr(obj, n) for n in data_fields))),
                tuple(getattr(obj, n) for n in meta_fields))

    def flatten(obj):
        return (tuple(getattr(obj, n) for n in data_fields),
                tuple(getattr(obj, n) for n in meta_fields))

    def unflatten(meta, leaves):
        # Bypasses __init__: JAX rebuilds objects with tracers or placeholder
        # objects as leaves.
        obj = object.__new__(cls)
        for n, v in zip(data_fields + meta_fields, tuple(leaves) + tuple(meta)):
            object.__setattr__(obj, n, v)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


def _describe(tree) -> str:
    # Leaves may be Python numbers or NumPy arrays, not only jax.Arrays.
    return str(jax.tree_util.tree_map(
        lambda x: f"{jnp.dtype(jnp.result_type(x)).name}{list(jnp.shape(x))}", tree))


def check_params(game: Game, params: Any) -> None:
    """Raise a clear error when ``params`` cannot be a point of ``game``.

    Checks the player count, each player's tree structure and shapes against
    ``game.init``, and that every leaf is a real floating-point array.  Runs at
    trace time only (shapes and dtypes), so it costs nothing under ``jit``.
    """
    if any(isinstance(leaf, Game) for leaf in jax.tree_util.tree_leaves(game)):
        raise TypeError(
            f"{type(game).__name__} is not registered as a pytree, so it cannot be passed "
            f"through jax.jit or vmap: decorate the class with @games.register_game (its "
            f"annotated fields become leaves, or static ones listed in _static), or "
            f"build the game with games.from_losses.")
    n = game.num_players
    if not isinstance(params, tuple):
        raise TypeError(
            f"params must be a tuple with one pytree per player ({n} for "
            f"{type(game).__name__}); got {type(params).__name__}. "
            f"Wrap it, e.g. params = tuple(params), or use game.init(key).")
    if len(params) != n:
        raise ValueError(
            f"{type(game).__name__} has {n} players but params holds {len(params)} "
            f"entries. Pass one pytree per player, as game.init(key) returns.")
    for i, theta in enumerate(params):
        for leaf in jax.tree_util.tree_leaves(theta):
            dt = jnp.result_type(leaf)
            got = f"{jnp.dtype(dt).name}{list(jnp.shape(leaf))}"
            if jnp.issubdtype(dt, jnp.complexfloating):
                raise TypeError(
                    f"player {i}'s parameters hold a complex array ({got}); gamedyn keeps "
                    f"parameters real (complex numbers live in the dynamics' buffers). "
                    f"Split it into real and imaginary parts as separate real parameters.")
            if not jnp.issubdtype(dt, jnp.floating):
                raise TypeError(
                    f"player {i}'s parameters hold an array of dtype {got}; parameters "
                    f"must be real floats. Convert with jnp.asarray(x, dtype=float).")
    expected = jax.eval_shape(game.init, jax.random.key(0))
    if not isinstance(expected, tuple) or len(expected) != n:
        raise ValueError(
            f"{type(game).__name__}.init(key) returns {_describe(expected)}, not a tuple "
            f"with one pytree per player ({n}); fix the game's init so params can be "
            f"checked against it.")
    for i, (got, want) in enumerate(zip(params, expected)):
        if jax.tree_util.tree_structure(got) != jax.tree_util.tree_structure(want):
            raise ValueError(
                f"player {i}'s parameters have structure {_describe(got)} but "
                f"{type(game).__name__} expects {_describe(want)}; use game.init(key) "
                f"for a correctly structured start.")
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            if jnp.shape(a) != b.shape:
                raise ValueError(
                    f"player {i}'s parameters have shapes {_describe(got)} but "
                    f"{type(game).__name__} expects {_describe(want)}; use "
                    f"game.init(key) for a correctly shaped start.")


def player_gradient(game: Game, params: Params, i: int):
    """dL_i/dtheta_i: player ``i``'s gradient of its own loss, others fixed.

    Shaped like ``params[i]``; no input checks (see :func:`check_params`).

    >>> import games, jax.numpy as jnp
    >>> g = games.bilinear(jnp.array([[2.0]]))              # L_1 = 2xy = -L_2
    >>> games.player_gradient(g, (jnp.array([1.0]), jnp.array([3.0])), 1).tolist()
    [-2.0]
    """
    def own(theta_i):
        return game.losses(params[:i] + (theta_i,) + params[i + 1:])[i]
    return jax.grad(own)(params[i])


def unchecked_simultaneous_gradient(game: Game, params: Params) -> Params:
    """:func:`simultaneous_gradient` without input checks, for use inside steps.

    ``simulate`` and ``linearize`` check ``params`` once at trace time; a
    dynamics' step calls this version so nothing is checked per step.
    """
    return tuple(player_gradient(game, params, i) for i in range(game.num_players))


def simultaneous_gradient(game: Game, params: Params) -> Params:
    """xi(omega) = (dL_1/dtheta_1, ..., dL_n/dtheta_n), a Params-shaped tuple.

    Entry i is player i's gradient of its own loss (shaped like ``params[i]``);
    ``params`` is checked with :func:`check_params` first.  Computed as each
    player's gradient of its own loss (:func:`player_gradient`), one reverse pass
    per player; under ``jit`` XLA shares their common forward computation.

    >>> import games, jax.numpy as jnp
    >>> g = games.bilinear(jnp.array([[2.0]]))
    >>> [v.tolist() for v in games.simultaneous_gradient(g, (jnp.array([1.0]), jnp.array([3.0])))]
    [[6.0], [-2.0]]
    """
    check_params(game, params)
    return unchecked_simultaneous_gradient(game, params)


def _flat_xi(game, params):
    flat, unravel = ravel_pytree(params)

    def xi_flat(v):
        return ravel_pytree(unchecked_simultaneous_gradient(game, unravel(v)))[0]
    return flat, unravel, xi_flat


def jacobian(game: Game, params: Params) -> jax.Array:
    """The game Jacobian J = d xi / d omega as a dense (d, d) matrix.

    d is the total number of parameters; rows and columns follow
    ``jax.flatten_util.ravel_pytree(params)`` (player 1's leaves first).  Row
    block i is d(dL_i/dtheta_i)/d omega, so the diagonal blocks are the players'
    own Hessians.  Eigenvalues with positive real parts at an equilibrium mean
    it is locally attracting for small-step gradient descent (module docstring).
    Meant for small games; use :func:`jacobian_operator` for large ones.

    >>> import games, jax
    >>> g = games.dirac_gan(gradient_penalty=1.0)           # params (theta, psi)
    >>> jax.jit(games.jacobian)(g, g.equilibrium()).tolist()
    [[0.0, 0.5], [-0.5, 1.0]]

    (``jax.jit`` is optional; it compiles one program instead of many eager ops.)
    """
    check_params(game, params)
    flat, _, xi_flat = _flat_xi(game, params)
    return jax.jacfwd(xi_flat)(flat)


def jacobian_operator(game: Game, params: Params) -> tuple[Callable, Callable]:
    """Matrix-free ``(jvp, vjp)`` with ``jvp(v) = J v`` and ``vjp(u) = J^T u``.

    Vectors are real and flat, of shape (d,), ordered as in :func:`jacobian`.
    ``jvp`` is a forward-mode derivative of xi (forward-over-reverse), ``vjp`` a
    reverse-mode one; neither materialises J.  For example, on
    ``games.bilinear([[2.0]])`` (J = [[0, 2], [-2, 0]]) and v = (1, 1),
    ``jvp(v)`` is (2, -2) and ``vjp(v)`` is (-2, 2).
    """
    check_params(game, params)
    flat, _, xi_flat = _flat_xi(game, params)
    _, vjp_fn = jax.vjp(xi_flat, flat)

    def as_vector(name, v):
        dt = jnp.result_type(v)
        if jnp.issubdtype(dt, jnp.complexfloating):
            raise TypeError(f"{name} must be a real vector; got dtype {dt}. Apply the "
                            f"operator to the real and imaginary parts separately.")
        if jnp.shape(v) != flat.shape:
            raise ValueError(f"{name} must be a flat vector of shape {flat.shape} (all "
                             f"players' parameters raveled); got shape {jnp.shape(v)}.")
        return jnp.asarray(v, flat.dtype)

    def jvp(v):
        return jax.jvp(xi_flat, (flat,), (as_vector("v", v),))[1]

    def vjp(u):
        return vjp_fn(as_vector("u", u))[0]
    return jvp, vjp
