"""IPD policies classified by their exact losses, and converted to Axelrod players."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

IPD = games.ipd()


@pytest.mark.parametrize("name, cls", [("always_cooperate", "cooperate"),
                                       ("always_defect", "defect"),
                                       ("tit_for_tat", "tit_for_tat")])
def test_named_strategies_are_their_class(name, cls):
    assert games.ipd_policy_class(games.ipd_strategy(name, confidence=6.0)) == cls


def test_profile_is_the_exact_per_step_losses():
    tft, alld = games.ipd_strategy("tit_for_tat"), games.ipd_strategy("always_defect")
    prof = games.ipd_policy_profile(tft)
    # TFT vs AllD: C then D forever: per-step 0.04 * 3 + 0.96 * 2 = 2.04 (and 1.92)
    np.testing.assert_allclose(prof[2:4], np.asarray(IPD.per_step_losses((tft, alld))),
                               rtol=1e-12)
    np.testing.assert_allclose(prof[2:4], [2.04, 1.92], atol=1e-6)
    # a random policy is none of the three
    assert games.ipd_policy_class(jnp.array([0.3, -0.2, 0.1, 0.5, 0.0])) == "other"


def _lola_tit_for_tat():
    starts = jax.vmap(IPD.init)(jax.random.split(jax.random.key(0), 10))
    run = jax.vmap(lambda p: dynamics.simulate(IPD, dynamics.lola(1.0, 1.0), p, 200,
                                               every=200, metrics=()).final.params)
    finals = run(starts)
    for seed in range(10):
        for player in range(2):
            x = finals[player][seed]
            if games.ipd_policy_class(x) == "tit_for_tat":
                return x
    raise AssertionError("no LOLA solution classed tit-for-tat")


@pytest.mark.slow
def test_a_tit_for_tat_solution_plays_tit_for_tat_in_axelrod():
    axl = pytest.importorskip("axelrod")
    x = _lola_tit_for_tat()
    game = axl.Game(r=-1, s=-3, t=0, p=-2)
    C, D = axl.Action.C, axl.Action.D
    play = axl.Match((games.to_axelrod(x), axl.Cooperator()), turns=50, game=game,
                     seed=1).play()
    assert [a for a, _ in play] == [C] * 50
    play = axl.Match((games.to_axelrod(x), axl.Defector()), turns=50, game=game,
                     seed=1).play()
    assert play[0][0] == C and [a for a, _ in play[1:]] == [D] * 49


def test_to_axelrod_initial_move_and_bad_input():
    pytest.importorskip("axelrod")
    import axelrod as axl
    def first_move(player):
        return axl.Match((player, axl.Cooperator()), turns=1, seed=0).play()[0][0]
    x = jnp.array([5.0, -5.0, 5.0, -5.0, -0.1])          # P(C first) = 0.475
    assert first_move(games.to_axelrod(x)) == axl.Action.D
    draws = {first_move(games.to_axelrod(x, initial="sample", seed=s)) for s in range(20)}
    assert draws == {axl.Action.C, axl.Action.D}
    with pytest.raises(ValueError, match="initial must be 'threshold' or 'sample'"):
        games.to_axelrod(x, initial="coin")
    with pytest.raises(ValueError, match="an IPD policy is 5 real logits"):
        games.to_axelrod(jnp.zeros(4))
    with pytest.raises(TypeError, match="For games.small_ipd pass game.ipd"):
        games.ipd_policy_class(x, games.small_ipd())
    with pytest.raises(TypeError, match="For games.small_ipd pass game.ipd"):
        games.ipd_policy_profile(x, games.small_ipd())
    for tol in (-1.0, float("nan"), True):
        with pytest.raises(ValueError, match="tol must be a non-negative finite number"):
            games.ipd_policy_class(x, tol=tol)
