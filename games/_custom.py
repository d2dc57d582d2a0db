"""User-defined games from one loss function per player.

An n-player differentiable game in the sense of Balduzzi et al. (2018), "The
Mechanics of n-Player Differentiable Games", ICML: player i owns params[i] and
minimises its own loss L_i(params).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from games._base import Game, register_game

__all__ = ["from_losses"]


@register_game
class CustomGame(Game):
    """An n-player game given by ``loss_fns[i](params[, data]) -> scalar``."""

    loss_fns: tuple
    init_fn: Callable | None
    template: tuple | None  # ((shape, dtype) per leaf, treedef) when init was a template
    data: Any = None
    eq: Any = None
    _static = ("loss_fns", "init_fn", "template")

    @property
    def num_players(self) -> int:
        return len(self.loss_fns)

    def losses(self, params):
        args = (params,) if self.data is None else (params, self.data)
        out = []
        for i, f in enumerate(self.loss_fns):
            value = jnp.asarray(f(*args))
            if value.size != 1:
                raise ValueError(f"loss_fns[{i}] must return a scalar loss; got an array "
                                 f"of shape {value.shape}. Reduce it, e.g. with jnp.sum.")
            out.append(value.reshape(()))
        return jnp.stack(out)

    def init(self, key):
        if self.init_fn is not None:
            return tuple(self.init_fn(key))
        leaves_spec, treedef = self.template
        keys = jax.random.split(key, len(leaves_spec))
        leaves = [jax.random.normal(k, s, d) for k, (s, d) in zip(keys, leaves_spec)]
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def equilibrium(self):
        return self.eq


def from_losses(*loss_fns: Callable, init, data=None, equilibrium=None) -> Game:
    """Build an n-player game from one loss function per player.

    Losses: L_i(omega) = ``loss_fns[i](params)`` (or ``loss_fns[i](params,
    data)``), where ``params = (theta_1, ..., theta_n)`` holds every player's
    parameters and player i minimises L_i over theta_i = ``params[i]`` only.
    ``game.losses(params)`` has shape (n,); ``games.simultaneous_gradient`` and
    ``games.jacobian`` give xi and J as for the built-in games.

    Args:
      *loss_fns: ``loss_fns[i](params)`` (or ``loss_fns[i](params, data)`` when
        ``data`` is given) returns player ``i``'s scalar loss; ``params`` is the
        tuple of all players' parameters.
      init: either a function ``key -> Params`` or an example ``Params`` tuple
        whose shapes and dtypes are used to draw standard-normal starts.
      data: optional pytree of arrays passed to every loss; it is a pytree leaf
        of the game, so a batch of games differing only in data can be vmapped.
      equilibrium: optional known solution (a Params tuple), returned by
        ``game.equilibrium()`` and used by distance metrics; not checked.

    Params: the structure, shapes and dtypes of ``init`` (the example tuple, or
    what the init function returns); each player's entry may be any pytree of
    real floating arrays.  Python callables are static (part of the compiled
    program), ``data`` and ``equilibrium`` are leaves.

    >>> import games, jax.numpy as jnp
    >>> g = games.from_losses(lambda p: p[0] @ p[1], lambda p: -(p[0] @ p[1]),
    ...                       init=(jnp.zeros(2), jnp.zeros(2)))
    >>> g.num_players, g.losses((jnp.ones(2), jnp.ones(2))).tolist()
    (2, [2.0, -2.0])

    References:
      Balduzzi, Racanière, Martens, Foerster, Tuyls & Graepel (2018), "The
      Mechanics of n-Player Differentiable Games", ICML.
    """
    if not loss_fns:
        raise ValueError("from_losses needs at least one loss function; got none.")
    for i, f in enumerate(loss_fns):
        if not callable(f):
            raise TypeError(f"loss_fns[{i}] must be callable params -> scalar; got "
                            f"{type(f).__name__}.")
    if callable(init):
        init_fn, template = init, None
    else:
        if not isinstance(init, tuple) or len(init) != len(loss_fns):
            raise ValueError(
                f"init must be a function key -> Params or an example Params tuple with "
                f"one entry per player ({len(loss_fns)}); got {type(init).__name__}"
                + (f" of length {len(init)}" if isinstance(init, (tuple, list)) else "") + ".")
        leaves, treedef = jax.tree_util.tree_flatten(init)
        spec = []
        for leaf in leaves:
            dt = jnp.result_type(leaf)
            if not jnp.issubdtype(dt, jnp.floating):
                raise TypeError(f"init holds an array of dtype {dt} and shape "
                                f"{jnp.shape(leaf)}; parameters must be real floats, e.g. "
                                f"jnp.zeros({jnp.shape(leaf)}).")
            spec.append((tuple(jnp.shape(leaf)), jnp.dtype(dt)))
        init_fn, template = None, (tuple(spec), treedef)
    if equilibrium is not None:
        equilibrium = tuple(equilibrium)
        if len(equilibrium) != len(loss_fns):
            raise ValueError(f"equilibrium must hold one pytree per player "
                             f"({len(loss_fns)}); got {len(equilibrium)} entries.")
    return CustomGame(tuple(loss_fns), init_fn, template, data, equilibrium)
