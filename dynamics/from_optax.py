"""Any optax optimiser applied per player, simultaneously or in turn."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import optax

from dynamics._base import Dynamics, zero_count
from dynamics.gradients import player_gradient, xi

__all__ = ["from_optax", "OptaxState"]


class OptaxState(NamedTuple):
    params: tuple       # Params
    opt_states: tuple   # one optax state per player
    count: jax.Array    # int32 scalar


def _init(optimizer, params):
    return OptaxState(params, tuple(optimizer.init(p) for p in params), zero_count())


def _step(optimizer, alternating, game, state):
    params, opt_states = state.params, list(state.opt_states)
    grads = None if alternating else xi(game, params)
    for i in range(game.num_players):
        g = player_gradient(game, params, i) if alternating else grads[i]
        updates, opt_states[i] = optimizer.update(g, opt_states[i], params[i])
        params = params[:i] + (optax.apply_updates(params[i], updates),) + params[i + 1:]
    return OptaxState(params, tuple(opt_states), state.count + 1)


def from_optax(optimizer: optax.GradientTransformation, *, alternating: bool = False
               ) -> Dynamics:
    """Run ``optimizer`` for every player on its own gradient dL_i/dtheta_i.

    Each player keeps its own optimiser state.  With ``alternating=True``
    players update in order, each seeing the earlier players' new parameters.
    The optimiser is static: rebuilding it (``optax.adam(lr)`` per value) compiles
    anew; sweep hyperparameters with ``optax.inject_hyperparams`` instead.
    """
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"from_optax needs an optax GradientTransformation; got "
                        f"{type(optimizer).__name__}.")
    return Dynamics(jax.tree_util.Partial(functools.partial(_init, optimizer)),
                    jax.tree_util.Partial(functools.partial(_step, optimizer,
                                                            bool(alternating))))
