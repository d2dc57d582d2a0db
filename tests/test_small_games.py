"""The small IPD, mixtures of games and random-subspace lifts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

SIG = jax.nn.sigmoid


def _ipd_values_numpy(p, q, gamma, payoff):
    """Exact discounted values of two memory-one policies (own move first), NumPy."""
    swap = [0, 2, 1, 3]
    qs = q[:4][swap]
    p0 = np.array([p[4] * q[4], p[4] * (1 - q[4]), (1 - p[4]) * q[4], (1 - p[4]) * (1 - q[4])])
    P = np.stack([p[:4] * qs, p[:4] * (1 - qs), (1 - p[:4]) * qs, (1 - p[:4]) * (1 - qs)], 1)
    x = np.linalg.solve((np.eye(4) - gamma * P).T, p0)
    r = np.asarray(payoff, float)
    return np.array([x @ r.reshape(4), x @ r.T.reshape(4)])


def test_small_ipd_losses_match_the_expanded_ipd_in_numpy():
    g = games.small_ipd(discount=0.9, retaliation_logit=-3.0)
    for a, b in [(0.3, -0.7), (2.0, 2.0), (-1.5, 0.4)]:
        s = lambda t: np.asarray(SIG(jnp.array([t, -3.0, t, -3.0, t])))
        want = -_ipd_values_numpy(s(a), s(b), 0.9, ((-1, -3), (0, -2)))
        got = g.losses((jnp.asarray(a), jnp.asarray(b)))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_small_ipd_has_two_basins_under_simgd():
    g, dyn = games.small_ipd(), dynamics.simgd(1.0)
    per_step = jax.jit(g.per_step_losses)
    ends = []
    for start in (-1.0, 2.0):
        p = (jnp.asarray(start), jnp.asarray(start))
        ends.append(np.asarray(per_step(dynamics.simulate(g, dyn, p, 2000, every=2000,
                                                         metrics=()).final.params)))
    np.testing.assert_allclose(ends[0], 1.959, atol=2e-3)      # defection
    np.testing.assert_allclose(ends[1], 1.000, atol=2e-3)      # tit-for-tat-like


def test_mix_is_the_convex_combination_and_vmaps_over_tau():
    a, b = games.matching_pennies(), games.small_ipd()
    p = (jnp.asarray(0.3), jnp.asarray(-0.2))
    taus = jnp.array([0.0, 0.25, 1.0])
    got = jax.vmap(lambda t: games.mix(a, b, t).losses(p))(taus)
    want = np.array([t * np.asarray(a.losses(p)) + (1 - t) * np.asarray(b.losses(p))
                     for t in np.asarray(taus)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    assert games.mix(a, b, 1.0).equilibrium() is not None
    assert games.mix(a, b, 0.5).equilibrium() is None


def test_mix_bad_input():
    with pytest.raises(ValueError, match="same players and parameter shapes"):
        games.mix(games.matching_pennies(), games.ipd(), 0.5)
    with pytest.raises(ValueError, match=r"tau must lie in \[0, 1\]"):
        games.mix(games.matching_pennies(), games.small_ipd(), 1.5)
    with pytest.raises(TypeError, match="game_b must be a games.Game"):
        games.mix(games.matching_pennies(), "ipd", 0.5)


def test_random_subspace_lift_project_and_gradients():
    small = games.dirac_gan(0.7)
    big = games.random_subspace(small, 6, key=jax.random.key(0))
    for q in big.bases:
        np.testing.assert_allclose(np.asarray(q.T @ q), np.eye(q.shape[1]), atol=1e-12)
    p = big.init(jax.random.key(1))
    assert p[0].shape == (6,)
    np.testing.assert_allclose(np.asarray(big.losses(p)),
                               np.asarray(small.losses(big.project(p))), rtol=1e-12)
    # chain rule: xi_big_i = Q_i xi_small_i; the lift of a point projects back to it
    xs = games.simultaneous_gradient(small, big.project(p))
    xb = games.simultaneous_gradient(big, p)
    for i in range(2):
        np.testing.assert_allclose(np.asarray(xb[i]),
                                   np.asarray(big.bases[i] @ jnp.ravel(xs[i])), atol=1e-12)
    eq = big.equilibrium()
    np.testing.assert_allclose(np.asarray(big.project(eq)), np.asarray(small.equilibrium()),
                               atol=1e-12)
    # the big Jacobian's spectrum: the small one's plus zeros
    ev = np.sort_complex(np.linalg.eigvals(np.asarray(games.jacobian(big, eq))))
    small_ev = np.linalg.eigvals(np.asarray(games.jacobian(small, small.equilibrium())))
    assert np.sum(np.abs(ev) > 1e-9) == 2
    np.testing.assert_allclose(np.sort_complex(ev[np.abs(ev) > 1e-9]), np.sort_complex(small_ev),
                               atol=1e-10)


def test_random_subspace_bad_input():
    with pytest.raises(ValueError, match="player 0 has 5 parameters, more than dim=3"):
        games.random_subspace(games.ipd(), 3, key=jax.random.key(0))
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        games.random_subspace(games.ipd(), 8, key=0)
