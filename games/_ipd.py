"""The exact infinitely iterated prisoner's dilemma with memory-one policies (LOLA).

Layout of a player's 5 logits (each is the logit of cooperating):
index 0..3 = P(C | previous joint move CC, CD, DC, DD), the joint move seen from
*that player's own* perspective (own move first); index 4 = P(C on the first move).

The game, its exact discounted value and its payoffs (CC -1, CD -3, DC 0, DD -2,
discount 0.96) are those of Foerster, Chen, Al-Shedivat, Whiteson, Abbeel &
Mordatch (2018), "Learning with Opponent-Learning Awareness", AAMAS.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from games._base import Game, register_game
from games.checks import as_float_matrix, as_real_scalar, is_concrete

__all__ = ["ipd", "ipd_strategy", "IPD_STRATEGIES"]

# Player 2 sees player 1's state (a, b) as (b, a): CC, CD, DC, DD -> CC, DC, CD, DD.
# A NumPy constant: a jnp array here would initialise the JAX backend at import,
# before users (or tests) can set XLA_FLAGS such as a forced host device count.
_SWAP = np.array([0, 2, 1, 3])


@register_game
class IPD(Game):
    """Two memory-one players; L_i = -V_i with V_i = p0^T (I - gamma P)^-1 r_i.

    Fields: ``payoff`` (2, 2) and ``discount`` (0-d), data leaves.
    """

    payoff: jax.Array      # (2, 2) rewards to the row player: rows own move C/D
    discount: jax.Array
    num_players = 2

    def _chain(self, params):
        p = jax.nn.sigmoid(params[0])
        q = jax.nn.sigmoid(params[1])
        q_states = q[:4][_SWAP]      # player 2's C-probability in player 1's state order
        p0 = jnp.stack([p[4] * q[4], p[4] * (1 - q[4]), (1 - p[4]) * q[4],
                        (1 - p[4]) * (1 - q[4])])
        pc, qc = p[:4], q_states
        P = jnp.stack([pc * qc, pc * (1 - qc), (1 - pc) * qc, (1 - pc) * (1 - qc)], axis=1)
        return p0, P

    def values(self, params):
        """Discounted values (V_1, V_2) in reward units (higher is better)."""
        p0, P = self._chain(params)
        r1 = self.payoff.reshape(4)
        r2 = self.payoff.T.reshape(4)
        m = jnp.eye(4, dtype=P.dtype) - self.discount * P
        # Solve the transposed system once: x^T = p0^T (I - gamma P)^-1.
        x = jnp.linalg.solve(m.T, p0)
        return jnp.stack([x @ r1, x @ r2])

    def losses(self, params):
        return -self.values(params)

    def per_step_losses(self, params):
        """(1 - discount) * losses: 1 for mutual cooperation, 2 for mutual defection."""
        return (1 - self.discount) * self.losses(params)

    def init(self, key):
        k1, k2 = jax.random.split(key)
        dt = self.payoff.dtype
        return (jax.random.normal(k1, (5,), dt), jax.random.normal(k2, (5,), dt))


def ipd(discount=0.96, payoff=((-1.0, -3.0), (0.0, -2.0))) -> IPD:
    """The exact iterated prisoner's dilemma.

    Two players with memory-one policies play an infinitely repeated
    prisoner's dilemma.  Each player's parameters are 5 logits of cooperating
    (module docstring): index 0..3 = P(C | previous joint move CC, CD, DC, DD)
    seen from that player's own perspective (own move first), index 4 = P(C on
    the first move).  With s the sigmoid, the play is a Markov chain on the
    joint moves (CC, CD, DC, DD, in player 1's order) with initial distribution
    p0 and transition matrix P built from s(logits); the losses are minus the
    exact discounted values::

        V_i = sum_t gamma^t p0^T P^t r_i = p0^T (I - gamma P)^-1 r_i,   L_i = -V_i,

    where r_i holds player i's rewards in each joint move.
    ``game.values(params)`` gives (V_1, V_2) and ``game.per_step_losses(params)``
    = (1 - gamma) * losses, the average loss per round (1 for mutual
    cooperation, 2 for mutual defection with the default payoffs).

    Args:
      discount: gamma in (0, 1) (default 0.96); may be traced.
      payoff: rewards to the row player, shape (2, 2), rows = own move (C, D),
        columns = opponent's move (C, D); the same table serves both players
        (a symmetric game).  The default is LOLA's: CC=-1, CD=-3, DC=0, DD=-2.

    Params: ``(logits_1, logits_2)``, each of shape (5,) in ``payoff``'s dtype;
    see ``ipd_strategy`` for named pure strategies.  ``equilibrium()`` is None:
    the game has many equilibria (mutual always-defect among them).

    >>> import games, jax
    >>> g = games.ipd()
    >>> tft, alld = games.ipd_strategy("tit_for_tat"), games.ipd_strategy("always_defect")
    >>> per_step = jax.jit(g.per_step_losses)               # optional: one compile
    >>> [round(v, 2) for v in per_step((tft, tft)).tolist()]
    [1.0, 1.0]
    >>> [round(v, 2) for v in per_step((tft, alld)).tolist()]   # 0.04 * 3 + 0.96 * 2
    [2.04, 1.92]

    References:
      Foerster, Chen, Al-Shedivat, Whiteson, Abbeel & Mordatch (2018),
      "Learning with Opponent-Learning Awareness", AAMAS.
    """
    payoff = as_float_matrix("payoff (rewards to the row player, rows = own move C/D, "
                             "columns = opponent's move C/D)", payoff, 2, (2, 2))
    discount = as_real_scalar("discount", discount, payoff.dtype)
    if is_concrete(discount) and not 0.0 < float(discount) < 1.0:
        raise ValueError(f"discount must lie in (0, 1); got {float(discount)}. The values "
                         f"are sums of discount**t over an infinite game, e.g. 0.96.")
    return IPD(payoff, discount)


IPD_STRATEGIES = {
    "always_cooperate": (1, 1, 1, 1, 1),
    "always_defect": (-1, -1, -1, -1, -1),
    # Own-perspective states CC, CD, DC, DD: copy the opponent's last move.
    "tit_for_tat": (1, -1, 1, -1, 1),
}


def ipd_strategy(name: str, confidence: float = 20.0) -> jax.Array:
    """Logits (shape (5,)) of a named pure strategy, each of magnitude ``confidence``.

    ``name`` is a key of ``IPD_STRATEGIES``: ``"always_cooperate"``,
    ``"always_defect"`` or ``"tit_for_tat"`` (cooperate first, then copy the
    opponent's last move).  Entries are +confidence (cooperate) or -confidence
    (defect) in the layout of ``ipd``; the default 20 gives probabilities
    within 3e-9 of 0 or 1.  The result is in the default float dtype.

    >>> import games
    >>> games.ipd_strategy("tit_for_tat", confidence=1.0).tolist()
    [1.0, -1.0, 1.0, -1.0, 1.0]
    """
    if name not in IPD_STRATEGIES:
        raise ValueError(f"unknown IPD strategy {name!r}; choose one of "
                         f"{sorted(IPD_STRATEGIES)}.")
    return confidence * jnp.asarray(IPD_STRATEGIES[name], dtype=jnp.result_type(float))
