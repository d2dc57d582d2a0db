"""The small iterated prisoner's dilemma: the exact IPD with one logit per player.

Player i cooperates after the opponent cooperated, and on the first move, with
probability s_i = sigmoid(theta_i); after the opponent defected with the fixed
probability sigmoid(retaliation_logit) (sigmoid(-3) ~ 0.047 by default).  In the
IPD's own-move-first layout (CC, CD, DC, DD, first) player i's logits are
(theta_i, r, theta_i, r, theta_i).  theta -> +inf is tit-for-tat-like,
theta -> -inf always defects; simultaneous GD has two basins, one for each,
split by a saddle on the diagonal: the toy of Lorraine, Vicol, Parker-Holder,
Kachman, Metz & Foerster (2022), "Lyapunov Exponents for Diversity in
Differentiable Games", AAMAS.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games._ipd import ipd
from games.checks import as_real_scalar

__all__ = ["small_ipd", "SmallIPD"]


@register_game
class SmallIPD(Game):
    """One cooperation logit per player over the exact IPD (``ipd``).

    Fields: ``ipd``, the underlying :func:`games.ipd` game (payoff and
    discount), and ``retaliation_logit`` (0-d), both data leaves.
    """

    ipd: Game
    retaliation_logit: jax.Array
    num_players = 2

    def full_logits(self, params):
        """Each player's 5 IPD logits (theta, r, theta, r, theta)."""
        r = self.retaliation_logit
        return tuple(jnp.stack([t, r, t, r, t]).astype(jnp.result_type(t, r)) for t in params)

    def losses(self, params):
        return self.ipd.losses(self.full_logits(params))

    def per_step_losses(self, params):
        """(1 - discount) * losses: about 1.00 for mutual tit-for-tat-like play,
        about 1.96 for mutual defection (default payoffs and retaliation)."""
        return self.ipd.per_step_losses(self.full_logits(params))

    def init(self, key):
        k1, k2 = jax.random.split(key)
        dt = jnp.result_type(self.retaliation_logit)
        return (jax.random.normal(k1, (), dt), jax.random.normal(k2, (), dt))


def small_ipd(discount=0.9, retaliation_logit=-3.0, payoff=((-1.0, -3.0), (0.0, -2.0))
              ) -> SmallIPD:
    """The small IPD: each player has one logit theta_i, its probability of
    cooperating on the first move and after the opponent cooperated.

    After the opponent defected a player cooperates with the fixed probability
    sigmoid(``retaliation_logit``).  The losses are those of the exact
    :func:`games.ipd` (minus the discounted values) with each player's logits
    (theta_i, r, theta_i, r, theta_i) in its own-move-first layout
    (CC, CD, DC, DD, first).  ``per_step_losses`` = (1 - discount) * losses is
    about 1.00 when both play theta -> +inf (tit-for-tat-like) and about 1.96 when
    both play theta -> -inf (defection).  Simultaneous GD (step 1) has a basin
    for each, split by a saddle on the diagonal theta_1 = theta_2.

    Args:
      discount: gamma in (0, 1) (default 0.9).
      retaliation_logit: logit of cooperating after the opponent defected
        (default -3, probability 0.047).
      payoff: as in :func:`games.ipd` (default LOLA's: CC -1, CD -3, DC 0, DD -2).

    Params: ``(theta_1, theta_2)``, two 0-d arrays.

    >>> import games, jax, jax.numpy as jnp
    >>> g = games.small_ipd()
    >>> per_step = jax.jit(g.per_step_losses)
    >>> [round(v, 2) for v in per_step((jnp.array(20.0), jnp.array(20.0))).tolist()]
    [1.0, 1.0]
    >>> [round(v, 2) for v in per_step((jnp.array(-20.0), jnp.array(-20.0))).tolist()]
    [1.96, 1.96]

    References:
      Lorraine, Vicol, Parker-Holder, Kachman, Metz & Foerster (2022),
      "Lyapunov Exponents for Diversity in Differentiable Games", AAMAS.
      Foerster, Chen, Al-Shedivat, Whiteson, Abbeel & Mordatch (2018),
      "Learning with Opponent-Learning Awareness", AAMAS (the exact IPD).
    """
    base = ipd(discount=discount, payoff=payoff)
    r = as_real_scalar("retaliation_logit", retaliation_logit, base.payoff.dtype)
    return SmallIPD(base, r)
