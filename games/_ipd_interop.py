"""IPD policies: what they are (cooperate, defect, tit-for-tat-like) and Axelrod players.

A memory-one policy is 5 logits in the layout of ``games.ipd`` (own move first:
P(C | CC, CD, DC, DD), then P(C on the first move)), which is also the order of
the Axelrod library's ``MemoryOnePlayer`` four-vector.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from games._ipd import IPD, ipd, ipd_strategy

__all__ = ["IPD_CLASSES", "ipd_policy_class", "ipd_policy_profile", "to_axelrod"]

# class -> the named strategy that stands for it
IPD_CLASSES = {"cooperate": "always_cooperate", "defect": "always_defect",
               "tit_for_tat": "tit_for_tat"}
_OPPONENTS = ("always_cooperate", "always_defect", "tit_for_tat")


def _logits(logits) -> jax.Array:
    x = jnp.asarray(logits)
    if x.shape != (5,) or not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"an IPD policy is 5 real logits (P(C | CC, CD, DC, DD), P(C "
                         f"first)); got an array of shape {x.shape} and dtype {x.dtype}. "
                         f"For games.small_ipd use game.full_logits(params)[i].")
    return x


def ipd_policy_profile(logits, game: IPD | None = None) -> np.ndarray:
    """The policy's exact per-step losses against always-cooperate, always-defect
    and tit-for-tat (its own and the opponent's, in that order): shape (6,)."""
    game = ipd() if game is None else game
    if not isinstance(game, IPD):
        raise TypeError(f"game must be a games.ipd() game (payoffs and discount); got "
                        f"{type(game).__name__}. For games.small_ipd pass game.ipd.")
    x = _logits(logits)
    out = []
    for name in _OPPONENTS:
        opp = ipd_strategy(name).astype(x.dtype)
        out.extend(np.asarray(_per_step(game, (x, opp)), float).tolist())
    return np.asarray(out)


_per_step = jax.jit(lambda game, params: game.per_step_losses(params))


def ipd_policy_class(logits, game: IPD | None = None, *, tol: float = 0.1) -> str:
    """``"cooperate"``, ``"defect"``, ``"tit_for_tat"`` or ``"other"``.

    The policy's :func:`ipd_policy_profile` (exact per-step losses, its own and
    its opponent's, against always-cooperate, always-defect and tit-for-tat) is
    compared in the max-norm with those of the named strategies (logits of
    magnitude 20); the nearest within ``tol`` names the class, else "other".
    Losses, not logits, decide: a policy is tit-for-tat-like when it plays like
    tit-for-tat against these opponents, whatever it would do in states they never
    reach.  ``game`` sets the payoffs and discount (default ``games.ipd()``).

    >>> import games
    >>> games.ipd_policy_class(games.ipd_strategy("tit_for_tat", confidence=5.0))
    'tit_for_tat'
    """
    if (isinstance(tol, bool) or not isinstance(tol, numbers.Real)
            or not 0 <= float(tol) < np.inf):
        raise ValueError(f"tol must be a non-negative finite number; got {tol!r}.")
    game = ipd() if game is None else game
    profile = ipd_policy_profile(logits, game)
    best, gap = "other", tol
    for name, strategy in IPD_CLASSES.items():
        d = float(np.max(np.abs(profile - ipd_policy_profile(ipd_strategy(strategy), game))))
        if d <= gap:
            best, gap = name, d
    return best


def to_axelrod(logits, *, initial: str = "threshold", seed: int | None = None):
    """The policy as an ``axelrod.MemoryOnePlayer``.

    The four-vector is sigmoid(logits[:4]): P(C | CC, CD, DC, DD) with the
    player's own last move first, the order of both ``games.ipd`` and Axelrod.
    Axelrod's ``initial`` is an action, not a probability: with
    ``initial="threshold"`` (default) it is C when P(C first) = sigmoid(logits[4])
    >= 1/2; with ``initial="sample"`` it is drawn with that probability from
    ``numpy.random.default_rng(seed)``.  Needs the optional ``axelrod`` package
    (``pip install 'gamedyn[ipd]'``).  Axelrod's payoffs ``axelrod.Game(r=-1,
    s=-3, t=0, p=-2)`` are those of ``games.ipd()`` as rewards.
    """
    x = np.asarray(jax.nn.sigmoid(_logits(logits)), float)
    if initial not in ("threshold", "sample"):
        raise ValueError(f"initial must be 'threshold' or 'sample'; got {initial!r}.")
    try:
        import axelrod
    except ImportError as err:
        raise ImportError("games.to_axelrod needs the optional axelrod package: "
                          "pip install 'gamedyn[ipd]' (or pip install axelrod).") from err
    if initial == "threshold":
        first = x[4] >= 0.5
    else:
        first = np.random.default_rng(seed).random() < x[4]
    action = axelrod.Action.C if first else axelrod.Action.D
    return axelrod.MemoryOnePlayer(four_vector=tuple(float(v) for v in x[:4]), initial=action)
