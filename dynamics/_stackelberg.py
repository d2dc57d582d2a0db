"""Stackelberg (leader/follower) dynamics with implicit-function-theorem hypergradients."""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from dynamics._base import Dynamics, zero_count
from dynamics._gradients import xi
from dynamics._hypergradient import CG, _check_method, hypergradient_of_root
from games import Game, register_game
from games.checks import check_positive

__all__ = ["stackelberg", "StackelbergState"]


class StackelbergState(NamedTuple):
    params: tuple       # Params of every player, in the game's order
    follower: Any       # the follower dynamics' state over the followers' parameters
    count: jax.Array    # int32 scalar, leader steps taken


@register_game
class FollowerGame(Game):
    """The game among the followers with the leaders' parameters held fixed."""

    game: Any                 # the whole game (a pytree)
    leader_params: tuple      # the leaders' parameters, in ``leaders`` order
    leaders: tuple            # static: the leaders' player indices
    _static = ("leaders",)

    @property
    def followers(self) -> tuple:
        return tuple(i for i in range(self.game.num_players) if i not in self.leaders)

    @property
    def num_players(self) -> int:
        return len(self.followers)

    def merge(self, follower_params) -> tuple:
        return _merge(self.leaders, self.followers, self.leader_params, follower_params)

    def losses(self, params):
        return self.game.losses(self.merge(params))[jnp.asarray(self.followers)]

    def init(self, key):
        full = self.game.init(key)
        return tuple(full[i] for i in self.followers)

    def equilibrium(self):
        return None


def _merge(leaders, followers, leader_params, follower_params):
    out = [None] * (len(leaders) + len(followers))
    for i, p in zip(leaders, leader_params):
        out[i] = p
    for i, p in zip(followers, follower_params):
        out[i] = p
    return tuple(out)


def _split(game, leaders, params):
    _check_leaders(leaders, game.num_players)
    followers = tuple(i for i in range(game.num_players) if i not in leaders)
    return (tuple(params[i] for i in leaders), tuple(params[i] for i in followers),
            followers)


def _check_leaders(leaders, n):
    bad = [i for i in leaders if not 0 <= i < n]
    if bad:
        raise ValueError(f"leaders {list(leaders)} include {bad}, out of range for a game "
                         f"with {n} players (indices 0..{n - 1}).")
    if len(leaders) >= n:
        raise ValueError(f"every player of this {n}-player game is a leader "
                         f"(leaders={list(leaders)}); at least one player must follow.")


def _init(leaders, hp, params):
    # Leaders are checked against the game in the first step (init sees no game).
    params = jax.tree_util.tree_map(jnp.asarray, params)
    followers = tuple(p for i, p in enumerate(params) if i not in leaders)
    return StackelbergState(params, hp["follower"].init(followers), zero_count())


def _step(leaders, inner_steps, hp, game, state):
    follower_dyn, method = hp["follower"], hp["method"]
    lam, _, followers = _split(game, leaders, state.params)
    if isinstance(method, CG) and len(followers) > 1:
        # The followers' game has a non-symmetric Jacobian in general, where CG
        # returns a wrong answer that nothing in a simulation would show.
        raise ValueError(f"method CG needs a symmetric condition Jacobian, but the "
                         f"{len(followers)} followers (players {list(followers)}) play a "
                         f"game among themselves, whose Jacobian is in general not "
                         f"symmetric: use GMRES(iters) or Exact().")
    sub = FollowerGame(game, lam, leaders)
    fstate = jax.lax.fori_loop(0, inner_steps, lambda _, s: follower_dyn.step(sub, s),
                               state.follower)
    w = fstate.params

    def condition(lam_, w_):
        g = xi(game, _merge(leaders, followers, lam_, w_))
        return tuple(g[i] for i in followers)

    new_lam = []
    for k, i in enumerate(leaders):
        def outer(lam_, w_, i=i):
            return game.losses(_merge(leaders, followers, lam_, w_))[i]
        g = hypergradient_of_root(outer, condition, lam, w, method)[k]
        new_lam.append(jax.tree_util.tree_map(
            lambda p, d: (p - hp["leader_lr"] * d).astype(p.dtype), lam[k], g))
    params = _merge(leaders, followers, tuple(new_lam), w)
    return StackelbergState(params, fstate, state.count + 1)


@functools.lru_cache(maxsize=None)
def _bound(fn, *static):
    # One object per static configuration: a stable treedef, so rebuilding the
    # dynamics with new traced values (leader_lr, method or follower settings)
    # does not recompile.
    return functools.partial(fn, *static)


def stackelberg(leader_lr, *, follower: Dynamics, inner_steps: int = 1, method,
                leaders=(0,)) -> Dynamics:
    """Leaders descend the implicit-function-theorem hypergradient; followers respond.

    Each step, with leaders' parameters lam and followers' w:

    1. the followers (every player not in ``leaders``) take ``inner_steps`` steps
       of ``follower``, any dynamics, on the game among themselves with lam held
       fixed (so followers may play a game, e.g. ``simgd``, ``extragradient``);
    2. each leader i steps lam_i <- lam_i - leader_lr dL_i(lam, w*(lam))/dlam_i,
       the hypergradient through the followers' stationarity condition
       xi_followers(lam, w) = 0 (``hypergradient_of_root`` at the current w with
       ``method``: ``Exact()``, ``CG``, ``GMRES``, ``Neumann``, ``Unrolled``, ...).

    With one follower minimising a loss, the condition's Jacobian is that loss's
    Hessian; with followers playing a game it is non-symmetric (use ``Exact`` or
    ``GMRES``; ``CG`` is refused there).  The hypergradient is exact only when w
    solves the followers' problem: more ``inner_steps`` (or a faster follower)
    make it so.  The solver's diagnostics are not kept in the state: check a
    method on one step with ``hypergradient_of_root(..., info=True)`` (e.g. a
    Neumann ``alpha`` against ``hessian_top_eigenvalue``).

    State: ``StackelbergState(params, follower, count)``: the whole Params, the
    follower dynamics' state over the followers' parameters, and the leader
    steps taken.  On a hyperparameter-optimisation game the leader's direct
    gradient is often zero, so simultaneous GD never moves it; this does.

    >>> import jax.numpy as jnp, games, dynamics
    >>> val = lambda p: 0.5 * (p[1][0] - 1.0) ** 2          # leader: w should be 1
    >>> train = lambda p: 0.5 * (p[1][0] - p[0][0]) ** 2    # follower: w* = lam
    >>> g = games.from_losses(val, train, init=(jnp.zeros(1), jnp.zeros(1)))
    >>> dyn = dynamics.stackelberg(0.5, follower=dynamics.simgd(1.0), method=dynamics.Exact())
    >>> traj = dynamics.simulate(g, dyn, (jnp.zeros(1), jnp.zeros(1)), 30, metrics=())
    >>> [round(float(p[-1, 0]), 4) for p in traj.params]
    [1.0, 1.0]

    References:
      von Stackelberg (1934), "Marktform und Gleichgewicht".  Lorraine, Vicol &
      Duvenaud (2020), "Optimizing Millions of Hyperparameters by Implicit
      Differentiation", AISTATS.  Fiez, Chasnov & Ratliff (2020), "Implicit
      Learning Dynamics in Stackelberg Games: Equilibria Characterization,
      Convergence Analysis, and Empirical Study", ICML.
    """
    if not isinstance(follower, Dynamics):
        raise TypeError(f"follower must be a dynamics.Dynamics (e.g. dynamics.simgd(0.1)); "
                        f"got {type(follower).__name__}.")
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, numbers.Integral) \
            or inner_steps < 1:
        raise ValueError(f"inner_steps must be an int >= 1; got {inner_steps!r}.")
    _check_method(method)
    if isinstance(leaders, numbers.Integral):
        leaders = (leaders,)
    leaders = tuple(leaders)
    if not leaders or any(isinstance(i, bool) or not isinstance(i, numbers.Integral)
                          or i < 0 for i in leaders) or len(set(leaders)) != len(leaders):
        raise ValueError(f"leaders must be distinct non-negative player indices; got "
                         f"{list(leaders)}.")
    leaders = tuple(sorted(int(i) for i in leaders))
    hp = dict(leader_lr=check_positive("leader_lr", leader_lr), method=method,
              follower=follower)
    return Dynamics(jax.tree_util.Partial(_bound(_init, leaders), hp),
                    jax.tree_util.Partial(_bound(_step, leaders, int(inner_steps)), hp))
