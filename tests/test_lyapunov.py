"""Lyapunov exponents by the QR method against closed forms, finite differences
and exact identities; bifurcation search on a double well."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

KEY = jax.random.key(1)
RNG = np.random.default_rng(0)


def _quadratic_game():
    """L_1 = x'Ax/2 + x'By, L_2 = y'Cy/2 + y'Dx: simGD is the linear map I - lr J."""
    a, b, c, d = (RNG.normal(size=(2, 2)) for _ in range(4))
    a, c = a @ a.T + np.eye(2), c @ c.T + np.eye(2)
    game = games.from_losses(lambda p: 0.5 * p[0] @ a @ p[0] + p[0] @ b @ p[1],
                             lambda p: 0.5 * p[1] @ c @ p[1] + p[1] @ d @ p[0],
                             init=(jnp.zeros(2), jnp.zeros(2)))
    return game, np.block([[a, b], [d, c]])


START = (jnp.array([0.3, -0.2]), jnp.array([0.1, 0.5]))


def _log_abs_eig(m):
    return np.sort(np.log(np.abs(np.linalg.eigvals(m))))[::-1]


@pytest.mark.slow
def test_linear_map_exponents_are_log_abs_eigenvalues():
    game, jac = _quadratic_game()
    lr = 0.1
    expected = _log_abs_eig(np.eye(4) - lr * jac)
    # (1/k) log |c| converges like 1/k: a million steps for 1e-6.
    res = dynamics.lyapunov_exponents(game, dynamics.simgd(lr), START, 10**6, 4, key=KEY)
    np.testing.assert_allclose(np.asarray(res.exponents), expected, atol=1e-6)
    assert res.jvps == 4 * 10**6


def test_sum_of_all_exponents_is_log_abs_determinant_at_any_horizon():
    game, jac = _quadratic_game()
    lr = 0.1
    res = dynamics.lyapunov_exponents(game, dynamics.simgd(lr), START, 37, 4, key=KEY)
    assert float(jnp.sum(res.exponents)) == pytest.approx(
        math.log(abs(np.linalg.det(np.eye(4) - lr * jac))), abs=1e-12)
    # momentum and complex momentum: the whole real-ified state (params, buffers)
    for dyn in (dynamics.momentum(0.1, 0.5), dynamics.complex_momentum(0.1, 0.6 * np.exp(0.4j))):
        m = np.asarray(dynamics.linearize(game, dyn, game.equilibrium() or START))
        d = m.shape[0]
        res = dynamics.lyapunov_exponents(game, dyn, START, 37, d, key=KEY)
        assert float(jnp.sum(res.exponents)) == pytest.approx(
            math.log(abs(np.linalg.det(m))), abs=1e-10)


def test_at_a_fixed_point_of_simgd_exponents_are_log_abs_one_minus_lr_eig():
    # Dirac GAN at its equilibrium: J has eigenvalues +-i c, so I - lr J is a
    # scaled rotation and every finite horizon is exact.
    game, lr = games.dirac_gan(), 0.3
    eq = game.equilibrium()
    jac = np.asarray(games.jacobian(game, eq))
    expected = _log_abs_eig(np.eye(2) - lr * jac)
    res = dynamics.lyapunov_exponents(game, dynamics.simgd(lr), eq, 50, 2, key=KEY)
    np.testing.assert_allclose(np.asarray(res.exponents), expected, atol=1e-12)
    assert expected[0] > 0          # simGD spirals out of the Dirac GAN's equilibrium


def test_logistic_map_has_exponent_ln_2():
    # x <- 4 x (1 - x) is simGD with lr 1 on L(x) = -3/2 x^2 + 4/3 x^3.
    game = games.from_losses(lambda p: -1.5 * p[0][0] ** 2 + 4 / 3 * p[0][0] ** 3,
                             init=(jnp.zeros(1),))
    res = dynamics.lyapunov_exponents(game, dynamics.simgd(1.0), (jnp.array([0.2137]),),
                                      100_000, key=KEY)
    assert float(res.exponents[0]) == pytest.approx(math.log(2), abs=1e-4)


def _nonlinear_game():
    return games.from_losses(
        lambda p: jnp.sum(p[0] * p[1]) + 0.3 * jnp.sum(p[0] ** 3) + 0.1 * jnp.sum(p[0] ** 4),
        lambda p: -jnp.sum(p[0] * p[1]) + 0.2 * jnp.sum(jnp.sin(2 * p[1])),
        init=(jnp.zeros(2), jnp.zeros(2)))


def test_exponent_gradients_match_finite_differences():
    game, dyn = _nonlinear_game(), dynamics.simgd(0.2)

    def objective(p):
        return jnp.sum(dynamics.lyapunov_exponents(game, dyn, p, 15, 2, key=KEY).exponents)
    flat0, unravel = jax.flatten_util.ravel_pytree(START)
    grad = jax.flatten_util.ravel_pytree(jax.grad(objective)(START))[0]
    h = 1e-6
    fd = [(objective(unravel(flat0.at[k].add(h))) - objective(unravel(flat0.at[k].add(-h))))
          / (2 * h) for k in range(flat0.size)]
    np.testing.assert_allclose(np.asarray(grad), np.asarray(fd), rtol=1e-6, atol=1e-8)


def test_vmap_over_starts_matches_a_loop():
    game, dyn = _nonlinear_game(), dynamics.simgd(0.2)
    starts = (jnp.array([[0.3, -0.2], [0.0, 0.4], [1.0, 1.0]]),
              jnp.array([[0.1, 0.5], [-0.3, 0.2], [0.0, 0.0]]))
    batched = jax.vmap(lambda p0, p1: dynamics.lyapunov_exponents(
        game, dyn, (p0, p1), 30, 2, key=KEY).exponents)(*starts)
    for i in range(3):
        one = dynamics.lyapunov_exponents(game, dyn, (starts[0][i], starts[1][i]), 30, 2,
                                          key=KEY).exponents
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(one), rtol=1e-12)


def _double_well():
    # simGD on (x^2 - 1)^2 / 4: basins x < 0 and x > 0, separatrix x = 0.
    return games.from_losses(lambda p: (p[0][0] ** 2 - 1) ** 2 / 4, init=(jnp.zeros(1),))


def test_find_bifurcation_climbs_to_the_separatrix():
    game = _double_well()
    res = dynamics.find_bifurcation(game, dynamics.simgd(0.1), (jnp.array([0.3]),), steps=20,
                                    lr=0.05, iters=200, key=KEY)
    assert abs(float(res.params[0][0])) < 0.05
    assert res.objective.shape == (201,)
    assert float(res.objective[-1]) > float(res.objective[0])
    # at x = 0 the step map is x -> 1.1 x: the exponent there is log 1.1
    at_zero = dynamics.lyapunov_exponents(game, dynamics.simgd(0.1), (jnp.zeros(1),), 20,
                                          key=KEY).exponents[0]
    assert float(at_zero) == pytest.approx(math.log(1.1), abs=1e-12)
    assert float(res.exponents[0]) <= float(at_zero) + 1e-12


def test_diverging_trajectory_gives_non_finite_exponents_not_an_error():
    game = games.from_losses(lambda p: -jnp.exp(p[0][0]), init=(jnp.zeros(1),))
    res = dynamics.lyapunov_exponents(game, dynamics.simgd(1.0), (jnp.array([3.0]),), 40,
                                      key=KEY)
    assert not np.isfinite(np.asarray(res.exponents)).all()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=0), ValueError, r"steps must be an int >= 1; got 0"),
    (dict(num=5), ValueError, r"num=5 exponents asked of a state with 4 real coordinates"),
    (dict(key=0), TypeError, r"key must be a PRNG key"),
])
def test_lyapunov_bad_input(kwargs, error, match):
    game, _ = _quadratic_game()
    args = dict(steps=10, num=1, key=KEY) | kwargs
    with pytest.raises(error, match=match):
        dynamics.lyapunov_exponents(game, dynamics.simgd(0.1), START, args["steps"],
                                    args["num"], key=args["key"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(objective="min"), r"objective must be one of 'max', 'sum'; got 'min'"),
    (dict(lr=-1.0), r"lr must be positive; got -1.0"),
    (dict(lr=float("inf")), r"lr must be finite; got inf"),
    (dict(iters=0), r"iters must be an int >= 1; got 0"),
    (dict(optimizer="adam"), r"optimizer must be an optax.GradientTransformation.*got str"),
    (dict(dyn="simgd"), r"dyn must be a dynamics.Dynamics.*got str"),
])
def test_find_bifurcation_bad_input(kwargs, match):
    dyn = kwargs.pop("dyn", dynamics.simgd(0.1))
    with pytest.raises((ValueError, TypeError), match=match):
        dynamics.find_bifurcation(_double_well(), dyn, (jnp.array([0.3]),), key=KEY, **kwargs)
    with pytest.raises(TypeError, match=r"dyn must be a dynamics.Dynamics.*got str"):
        dynamics.lyapunov_exponents(_double_well(), "simgd", (jnp.array([0.3]),), 5, key=KEY)


def test_find_bifurcation_takes_an_array_step_size():
    res = dynamics.find_bifurcation(_double_well(), dynamics.simgd(0.1), (jnp.array([0.3]),),
                                    key=KEY, lr=jnp.asarray(0.05), iters=3)
    assert np.all(np.isfinite(np.asarray(res.exponents)))
