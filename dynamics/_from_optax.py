"""Any optax optimiser applied per player, simultaneously or in turn."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import numpy as np
import optax

from dynamics._base import Dynamics, zero_count
from dynamics._gradients import player_gradient, xi

__all__ = ["from_optax", "OptaxState"]


class OptaxState(NamedTuple):
    params: tuple       # Params
    opt_states: tuple   # one optax state per player
    count: jax.Array    # int32 scalar


class _Static:
    """A hashable, equality-comparable callable ``fn(*bound, *args)``.

    ``jax.tree_util.Partial`` keeps its function in the treedef, so two
    ``from_optax`` dynamics built from the same optimiser must compare equal for
    ``simulate``'s compiled program to be reused.  (``functools.partial``
    compares by identity, which would recompile on every rebuild.)
    """

    def __init__(self, fn: Callable, *bound):
        self.fn, self.bound = fn, bound
        try:
            hash(bound)
            self._key = (fn, bound)
        except TypeError:             # unhashable optimiser: fall back to identity
            self._key = (fn, tuple(id(b) for b in bound))

    def __call__(self, *args):
        return self.fn(*self.bound, *args)

    def __eq__(self, other):
        return isinstance(other, _Static) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        return f"{self.fn.__name__}{self.bound!r}"


def _opt(make, static, hp):
    # make is an optax GradientTransformation (hp empty) or a factory called
    # with the traced hyperparameters hp and the static ones.
    if not hp and not static and hasattr(make, "update"):
        return make
    return make(**dict(static), **hp)


def _init(make, static, hp, params):
    optimizer = _opt(make, static, hp)
    return OptaxState(params, tuple(optimizer.init(p) for p in params), zero_count())


def _step(make, static, alternating, hp, game, state):
    optimizer = _opt(make, static, hp)
    params, opt_states = state.params, list(state.opt_states)
    grads = None if alternating else xi(game, params)
    for i in range(game.num_players):
        g = player_gradient(game, params, i) if alternating else grads[i]
        updates, opt_states[i] = optimizer.update(g, opt_states[i], params[i])
        params = params[:i] + (optax.apply_updates(params[i], updates),) + params[i + 1:]
    return OptaxState(params, tuple(opt_states), state.count + 1)


def _is_float_data(v) -> bool:
    if isinstance(v, jax.core.Tracer):
        return True
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (float, np.floating)):
        return True
    if isinstance(v, (jax.Array, np.ndarray)):
        return np.issubdtype(v.dtype, np.inexact)
    return False


def from_optax(optimizer: optax.GradientTransformation | Callable[..., Any], *,
               alternating: bool = False, **hyperparams) -> Dynamics:
    """Run an optax optimiser for every player on its own gradient dL_i/dtheta_i.

    Each player keeps its own optimiser state s_i.  Update, for i = 1..n::

        (u_i, s_i) <- optimizer.update(g_i, s_i, theta_i)
        theta_i    <- theta_i + u_i                        (optax.apply_updates)

    with g_i = xi_i(omega) = dL_i/dtheta_i at the start of the step for every
    player (simultaneous, the default) or, with ``alternating=True``, at
    (theta_1', ..., theta_{i-1}', theta_i, ...): players update in order, each
    seeing the earlier players' new parameters.  ``from_optax(optax.sgd(lr))``
    is ``simgd(lr)``; the optimiser's hyperparameters keep their optax
    meanings and ranges.

    State: ``OptaxState(params, opt_states, count)``: ``opt_states`` is a
    tuple with one optax state per player, ``optimizer.init(params[i])``.

    Two forms:

    * ``from_optax(optax.adam(1e-2))``: the optimiser is static.  Building the
      dynamics again from the *same* optimiser object reuses ``simulate``'s
      compiled program; a new optimiser (``optax.adam(2e-2)``) compiles anew,
      because its hyperparameters are baked into its closures.
    * ``from_optax(optax.adam, learning_rate=1e-2, b1=0.9)``: a factory and its
      keyword arguments.  Floating-point arguments (Python floats, float
      arrays, traced values) are pytree leaves, so rebuilding with other values
      does not recompile and ``jax.vmap`` can sweep them; other arguments
      (ints, bools, schedules) are static.

    >>> import games, dynamics, optax, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))
    >>> dyn = dynamics.from_optax(optax.sgd, learning_rate=0.5)
    >>> s = dyn.step(g, dyn.init((jnp.ones(1), jnp.ones(1))))
    >>> [float(p[0]) for p in s.params]
    [0.5, 1.5]

    References:
      DeepMind et al. (2020), "The DeepMind JAX Ecosystem" (optax),
      http://github.com/google-deepmind.
    """
    if hyperparams:
        if not callable(optimizer) or hasattr(optimizer, "update"):
            raise TypeError(
                f"from_optax with keyword hyperparameters needs an optimiser factory "
                f"such as optax.adam (called as factory(**hyperparams)); got "
                f"{type(optimizer).__name__}. Either pass optax.adam, learning_rate=... "
                f"or a built optimiser without keywords.")
        data = {k: v for k, v in hyperparams.items() if _is_float_data(v)}
        static = tuple(sorted((k, v) for k, v in hyperparams.items() if k not in data))
        built = optimizer(**hyperparams)
        if not (hasattr(built, "init") and hasattr(built, "update")):
            raise TypeError(f"from_optax: {getattr(optimizer, '__name__', optimizer)!r}"
                            f"(**hyperparams) returned {type(built).__name__}, not an "
                            f"optax GradientTransformation.")
    else:
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise TypeError(f"from_optax needs an optax GradientTransformation (e.g. "
                            f"optax.adam(1e-3)) or a factory with keyword "
                            f"hyperparameters (optax.adam, learning_rate=1e-3); got "
                            f"{type(optimizer).__name__}.")
        data, static = {}, ()
    alternating = bool(alternating)
    return Dynamics(jax.tree_util.Partial(_Static(_init, optimizer, static), data),
                    jax.tree_util.Partial(_Static(_step, optimizer, static, alternating),
                                          data))
