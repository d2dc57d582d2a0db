"""The exact IPD against an independent Monte-Carlo rollout and a forward recursion.

Both references are written here in NumPy from the rules of the game (Foerster et al. 2018):
each player's 5 logits give P(cooperate | previous joint move seen from its *own*
perspective, own move first: CC=0, CD=1, DC=2, DD=3) and, at index 4, P(cooperate
on the first move); rewards are discounted from the first move on.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import games

LOLA_PAYOFF = np.array([[-1.0, -3.0], [0.0, -2.0]])  # rows own move C/D, cols opponent's
PER_STEP = jax.jit(lambda game, params: game.per_step_losses(params))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def _horizon(discount, tol=1e-9):
    return int(math.ceil(math.log(tol) / math.log(discount)))


def mc_per_step_losses(logits1, logits2, *, payoff=LOLA_PAYOFF, discount=0.96,
                       episodes=40_000, seed=0):
    """Monte-Carlo (1 - discount) * (-discounted return) per player: (mean, standard error).

    The sum is truncated where discount**t < 1e-9, so the bias is below 1e-9 * max|r|.
    """
    rng = np.random.default_rng(seed)
    p1, p2 = _sigmoid(logits1), _sigmoid(logits2)
    payoff = np.asarray(payoff, dtype=np.float64)
    # defect flags (1 = D) of the current move
    d1 = (rng.random(episodes) >= p1[4]).astype(np.int64)
    d2 = (rng.random(episodes) >= p2[4]).astype(np.int64)
    ret1 = np.zeros(episodes)
    ret2 = np.zeros(episodes)
    w = 1.0
    for _ in range(_horizon(discount)):
        ret1 += w * payoff[d1, d2]
        ret2 += w * payoff[d2, d1]
        w *= discount
        s1 = 2 * d1 + d2          # player 1's view: own move first
        s2 = 2 * d2 + d1          # player 2's view: own move first
        d1 = (rng.random(episodes) >= p1[s1]).astype(np.int64)
        d2 = (rng.random(episodes) >= p2[s2]).astype(np.int64)
    samples = -(1 - discount) * np.stack([ret1, ret2])
    return samples.mean(axis=1), samples.std(axis=1, ddof=1) / np.sqrt(episodes)


def recursion_per_step_losses(logits1, logits2, *, payoff=LOLA_PAYOFF, discount=0.96):
    """The same expectation, exactly, by pushing the distribution of joint moves forward.

    dist[a, b] = P(player 1 played a, player 2 played b) with 0 = C, 1 = D.
    """
    p1, p2 = _sigmoid(logits1), _sigmoid(logits2)
    payoff = np.asarray(payoff, dtype=np.float64)
    coop = lambda p: np.array([p, 1 - p])  # P(C), P(D)
    dist = np.outer(coop(p1[4]), coop(p2[4]))
    v1 = v2 = 0.0
    w = 1.0
    for _ in range(_horizon(discount, 1e-15)):
        v1 += w * np.sum(dist * payoff)
        v2 += w * np.sum(dist * payoff.T)
        w *= discount
        new = np.zeros((2, 2))
        for a in range(2):
            for b in range(2):
                new += dist[a, b] * np.outer(coop(p1[2 * a + b]), coop(p2[2 * b + a]))
        dist = new
    return -(1 - discount) * np.array([v1, v2])


def _logits(name):
    return np.asarray(games.ipd_strategy(name))


# (player 1, player 2, exact per-step losses from the closed forms)
# TFT vs always-defect: CD on move 1, then DD forever: 3(1 - g) + 2g and 2g.
PURE_CASES = [
    ("always_cooperate", "always_cooperate", (1.0, 1.0)),
    ("always_defect", "always_defect", (2.0, 2.0)),
    ("always_cooperate", "always_defect", (3.0, 0.0)),
    ("tit_for_tat", "tit_for_tat", (1.0, 1.0)),
    ("tit_for_tat", "always_defect", (3 * 0.04 + 2 * 0.96, 2 * 0.96)),
    # Player 2 plays TFT: this checks that player 2 reads the state from its own side.
    ("always_defect", "tit_for_tat", (2 * 0.96, 3 * 0.04 + 2 * 0.96)),
]


@pytest.mark.parametrize("s1,s2,expected", PURE_CASES,
                         ids=[f"{a}-{b}" for a, b, _ in PURE_CASES])
def test_pure_strategies(s1, s2, expected):
    game = games.ipd()
    got = np.asarray(PER_STEP(game, (games.ipd_strategy(s1), games.ipd_strategy(s2))))
    # confidence 20: the strategies err with probability sigmoid(-20) ~ 2e-9 per move
    np.testing.assert_allclose(got, expected, atol=1e-6)
    mean, se = mc_per_step_losses(_logits(s1), _logits(s2), episodes=2_000)
    np.testing.assert_array_less(np.abs(got - mean), 5 * se + 1e-6)
    np.testing.assert_allclose(recursion_per_step_losses(_logits(s1), _logits(s2)), got,
                               atol=1e-12)


# N(0, 1) logits as in LOLA's starts; with them, mixing player 2's CD and DC logits
# moves the losses by less than one standard error, so the last case (scale 3)
# is the one where reading the state from the wrong side is hundreds of errors off.
@pytest.mark.parametrize("seed,scale", [(0, 1.0), (1, 1.0), (2, 3.0)])
def test_random_mixed_policies_match_monte_carlo(seed, scale):
    r = np.random.default_rng(100 + seed)
    l1, l2 = scale * r.normal(size=5), scale * r.normal(size=5)
    game = games.ipd()
    got = np.asarray(PER_STEP(game, (jnp.asarray(l1), jnp.asarray(l2))))
    mean, se = mc_per_step_losses(l1, l2, seed=seed)
    assert np.all(se > 1e-4)  # a genuinely random game
    np.testing.assert_array_less(np.abs(got - mean), 5 * se)
    np.testing.assert_allclose(recursion_per_step_losses(l1, l2), got, rtol=1e-10)
    # losses are the undiscounted-average ones divided by (1 - discount)
    np.testing.assert_allclose(np.asarray(game.losses((jnp.asarray(l1), jnp.asarray(l2)))),
                               got / 0.04, rtol=1e-12)


def test_custom_payoff_and_discount():
    payoff = np.array([[3.0, 0.0], [5.0, 1.0]])  # Axelrod's R, S, T, P as rewards
    discount = 0.8
    game = games.ipd(discount=discount, payoff=payoff)
    r = np.random.default_rng(7)
    l1, l2 = r.normal(size=5), r.normal(size=5)
    got = np.asarray(PER_STEP(game, (jnp.asarray(l1), jnp.asarray(l2))))
    mean, se = mc_per_step_losses(l1, l2, payoff=payoff, discount=discount, seed=3)
    np.testing.assert_array_less(np.abs(got - mean), 5 * se)
    np.testing.assert_allclose(
        recursion_per_step_losses(l1, l2, payoff=payoff, discount=discount), got, rtol=1e-10)
    coop = games.ipd_strategy("always_cooperate")
    np.testing.assert_allclose(PER_STEP(game, (coop, coop)), [-3.0, -3.0], atol=1e-6)


def test_vmap_over_discounts_matches_loop():
    r = np.random.default_rng(8)
    params = (jnp.asarray(r.normal(size=5)), jnp.asarray(r.normal(size=5)))
    discounts = jnp.array([0.5, 0.9, 0.96])
    batched = jax.jit(jax.vmap(lambda d: games.ipd(discount=d).per_step_losses(params)))(
        discounts)
    for k, d in enumerate(np.asarray(discounts)):
        np.testing.assert_allclose(
            batched[k], recursion_per_step_losses(*map(np.asarray, params), discount=d),
            rtol=1e-10)


def test_strategy_names_and_logits():
    assert set(games.IPD_STRATEGIES) == {"always_cooperate", "always_defect", "tit_for_tat"}
    # own-perspective states CC, CD, DC, DD, then the first move
    np.testing.assert_array_equal(games.ipd_strategy("tit_for_tat"),
                                  20.0 * np.array([1, -1, 1, -1, 1]))
    np.testing.assert_array_equal(games.ipd_strategy("always_cooperate", confidence=3.0),
                                  np.full(5, 3.0))
    np.testing.assert_array_equal(games.ipd_strategy("always_defect"), np.full(5, -20.0))
    assert games.ipd_strategy("tit_for_tat").shape == (5,)


def test_unknown_strategy_name():
    with pytest.raises(ValueError, match=r"unknown IPD strategy 'grim_trigger'.*tit_for_tat"):
        games.ipd_strategy("grim_trigger")
