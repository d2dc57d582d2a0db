"""Games made from other games: mixtures and random-subspace lifts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from games._base import Game, _describe, register_game
from games.checks import as_real_scalar, check_int, check_key, is_concrete

__all__ = ["mix", "MixedGame", "random_subspace", "RandomSubspaceGame"]


def _structure(game):
    return jax.eval_shape(game.init, jax.random.key(0))


@register_game
class MixedGame(Game):
    """L_i = tau L_i^a + (1 - tau) L_i^b.  Fields: ``game_a``, ``game_b`` (games
    whose parameters have the same structure) and ``tau`` (0-d), all data."""

    game_a: Game
    game_b: Game
    tau: jax.Array

    @property
    def num_players(self) -> int:
        return self.game_a.num_players

    def losses(self, params):
        return self.tau * self.game_a.losses(params) + (1 - self.tau) * self.game_b.losses(params)

    def init(self, key):
        return self.game_a.init(key)

    def equilibrium(self):
        if is_concrete(self.tau) and float(self.tau) == 1.0:
            return self.game_a.equilibrium()
        if is_concrete(self.tau) and float(self.tau) == 0.0:
            return self.game_b.equilibrium()
        return None


def mix(game_a: Game, game_b: Game, tau) -> MixedGame:
    """The mixture with losses tau * L_a + (1 - tau) * L_b, player by player.

    ``game_a`` and ``game_b`` must have the same players and parameter shapes
    (their ``init`` outputs the same structure); the mixture starts where
    ``game_a.init`` does.  ``tau`` may be traced (vmap over it for a family of
    games).  ``mix(matching_pennies(), small_ipd(), tau)`` is the family of
    Lorraine et al. (2022): tau = 0 the small IPD (a saddle between two
    basins), tau = 1 matching pennies (purely rotational); in between the
    bifurcation is rotational.

    >>> import games, jax.numpy as jnp
    >>> g = games.mix(games.matching_pennies(), games.small_ipd(), 0.5)
    >>> p = (jnp.array(0.3), jnp.array(-0.2))
    >>> bool(jnp.allclose(g.losses(p), 0.5 * games.matching_pennies().losses(p)
    ...                   + 0.5 * games.small_ipd().losses(p)))
    True

    References:
      Lorraine, Vicol, Parker-Holder, Kachman, Metz & Foerster (2022),
      "Lyapunov Exponents for Diversity in Differentiable Games", AAMAS.
    """
    for name, g in (("game_a", game_a), ("game_b", game_b)):
        if not isinstance(g, Game):
            raise TypeError(f"{name} must be a games.Game; got {type(g).__name__}.")
    sa, sb = _structure(game_a), _structure(game_b)
    same = (game_a.num_players == game_b.num_players
            and jax.tree_util.tree_structure(sa) == jax.tree_util.tree_structure(sb)
            and all(x.shape == y.shape for x, y in zip(jax.tree_util.tree_leaves(sa),
                                                       jax.tree_util.tree_leaves(sb))))
    if not same:
        raise ValueError(f"mix needs games with the same players and parameter shapes; "
                         f"{type(game_a).__name__} has {_describe(sa)} and "
                         f"{type(game_b).__name__} has {_describe(sb)}.")
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(sa))
    tau = as_real_scalar("tau", tau, dtype)
    if is_concrete(tau) and not 0.0 <= float(tau) <= 1.0:
        raise ValueError(f"tau must lie in [0, 1] (the weight of game_a); got {float(tau)}.")
    return MixedGame(game_a, game_b, tau)


@register_game
class RandomSubspaceGame(Game):
    """``game`` seen through theta_small_i = unravel_i(Q_i^T theta_i), theta_i in R^dim.

    Fields: ``game`` and ``bases`` (one (dim, d_i) matrix with orthonormal
    columns per player), data leaves; ``unravels`` (static), each player's
    ``ravel_pytree`` inverse.
    """

    game: Game
    bases: tuple
    unravels: tuple
    _static = ("unravels",)

    @property
    def num_players(self) -> int:
        return self.game.num_players

    def project(self, params):
        """The small game's parameters of a lifted point."""
        return tuple(u(q.T @ theta) for u, q, theta in zip(self.unravels, self.bases, params))

    def lift(self, small_params):
        """The lifted point Q_i ravel(theta_small_i) (its projection is small_params)."""
        return tuple(q @ ravel_pytree(t)[0] for q, t in zip(self.bases, small_params))

    def losses(self, params):
        return self.game.losses(self.project(params))

    def init(self, key):
        return self.lift(self.game.init(key))

    def equilibrium(self):
        eq = self.game.equilibrium()
        return None if eq is None else self.lift(eq)


def random_subspace(game: Game, dim: int, *, key) -> RandomSubspaceGame:
    """``game`` lifted to ``dim`` parameters per player by a random linear map.

    Player i's parameters become a vector theta_i in R^dim and the small game
    sees unravel(Q_i^T theta_i), with Q_i a random dim x d_i matrix with
    orthonormal columns (QR of a Gaussian matrix drawn from ``key``; d_i the
    player's number of parameters).  The losses are the small game's, constant
    along the dim - d_i directions orthogonal to Q_i; ``init`` and
    ``equilibrium`` are the small game's, lifted (``game.lift``).  Use it to
    measure how costs (Hessian-vector products, exponents) scale with the
    dimension at fixed dynamics.

    >>> import games, jax, jax.numpy as jnp
    >>> small = games.matching_pennies()
    >>> big = games.random_subspace(small, 100, key=jax.random.key(0))
    >>> p = big.init(jax.random.key(1))
    >>> p[0].shape, bool(jnp.allclose(big.losses(p), small.losses(big.project(p))))
    ((100,), True)
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be a games.Game; got {type(game).__name__}.")
    dim = check_int("dim", dim, low=1)
    check_key(key)
    start = game.init(jax.random.key(0))
    bases, unravels = [], []
    for i, (theta, k) in enumerate(zip(start, jax.random.split(key, game.num_players))):
        flat, unravel = ravel_pytree(theta)
        d = flat.shape[0]
        if d > dim:
            raise ValueError(f"player {i} has {d} parameters, more than dim={dim}; pass "
                             f"dim >= {d}.")
        q, _ = jnp.linalg.qr(jax.random.normal(k, (dim, d), flat.dtype))
        bases.append(q)
        unravels.append(unravel)
    return RandomSubspaceGame(game, tuple(bases), tuple(unravels))
