"""simulate as the one engine: honest divergence, stochastic games, chunks, progress,
first-hit events and the memory guard.

Expected numbers come from closed forms or from Python loops of ``dyn.step``.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

XY = games.bilinear(jnp.eye(1))                      # L = xy


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _bitwise_equal(a, b):
    la, lb = _leaves(a), _leaves(b)
    return len(la) == len(lb) and all(x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
                                      for x, y in zip(la, lb))


# ------------------------------------------------------------------ honest divergence

def test_float32_metric_overflow_is_divergence():
    # simgd on L = xy multiplies the distance by rho = sqrt(1 + lr^2) each step
    # (closed form).  In float32 the recorded distance, sqrt(x^2 + y^2), overflows
    # once d0^2 rho^(2t) > 3.4e38 although x and y stay finite far longer.
    with jax.enable_x64(False):
        game = games.bilinear(jnp.eye(1))
        start = (jnp.array([0.6], jnp.float32), jnp.array([-0.8], jnp.float32))
        traj = dynamics.simulate(game, dynamics.simgd(10.0), start, 30)
        assert traj.params[0].dtype == jnp.float32
        d = int(traj.diverged_at)
        assert d >= 0
        assert all(np.all(np.isfinite(x)) for x in _leaves(traj.final.params))
        rho, d0 = math.sqrt(101.0), 1.0
        expect = math.log(math.sqrt(float(np.finfo(np.float32).max)) / d0) / math.log(rho)
        assert d == math.ceil(expect)
        assert np.isfinite(traj.metrics["distance"][d - 1])
        assert not np.isfinite(traj.metrics["distance"][d])


def test_state_divergence_between_records_is_exact():
    # Recorded every 50 steps, the state is still checked after every step.
    start = (jnp.array([0.6]), jnp.array([-0.8]))
    traj = dynamics.simulate(XY, dynamics.simgd(1e3), start, 200, every=50, metrics=())
    rho = math.sqrt(1 + 1e6)
    # |x_t|, |y_t| <= rho^t; the first component passes float64's max near
    # t = log(1.797e308) / log(rho) (the 2x2 rotation keeps both of that order).
    expect = math.log(np.finfo(np.float64).max) / math.log(rho)
    assert abs(int(traj.diverged_at) - expect) <= 1.5


# ------------------------------------------------------------------ stochastic games

@games.register_game
class NoisyQuadratic(games.Game):
    """A minibatch game: L_i = 1/2 |theta_i - c_i|^2 + theta_1 . theta_2 (-1)^i, with the
    targets c (2, 3) drawn afresh by ``resample``: cheap to compile, unlike a GAN."""

    c: jax.Array
    num_players = 2

    def losses(self, params):
        x, y = params
        cross = x @ y
        return jnp.stack([0.5 * jnp.sum((x - self.c[0]) ** 2) + cross,
                          0.5 * jnp.sum((y - self.c[1]) ** 2) - cross])

    def init(self, key):
        kx, ky = jax.random.split(key)
        return (jax.random.normal(kx, (3,)), jax.random.normal(ky, (3,)))

    def resample(self, key):
        return dataclasses.replace(self, c=jax.random.normal(key, (2, 3)))


GAN = NoisyQuadratic(jnp.zeros((2, 3)))
GAN_START = GAN.init(jax.random.key(0))
GAN_DYN = dynamics.momentum(0.05, 0.5)


def test_stochastic_game_draws_a_batch_per_step_from_the_key():
    key = jax.random.key(3)
    traj = dynamics.simulate(GAN, GAN_DYN, GAN_START, 12, every=4, metrics=("losses",),
                             key=key)
    # A Python loop of the documented rule: split the key, resample with the sub-key.
    step, state, k = jax.jit(GAN_DYN.step), GAN_DYN.init(GAN_START), key
    states = [state]
    for _ in range(12):
        k, sub = jax.random.split(k)
        state = step(GAN.resample(sub), state)
        states.append(state)
    for i, t in enumerate(range(0, 13, 4)):
        np.testing.assert_allclose(
            np.concatenate([x.ravel() for x in _leaves(jax.tree_util.tree_map(
                lambda a: a[i], traj.params))]),
            np.concatenate([x.ravel() for x in _leaves(states[t].params)]),
            rtol=1e-12, atol=1e-12)
    # metrics are evaluated on the game as given (its own minibatch)
    np.testing.assert_allclose(traj.metrics["losses"][-1], GAN.losses(states[-1].params),
                               rtol=1e-12)


def test_stochastic_runs_are_bitwise_reproducible_and_chunks_change_nothing():
    run = lambda key, chunks: dynamics.simulate(GAN, GAN_DYN, GAN_START, 12, every=4,
                                                key=key, chunks=chunks)
    a, b = run(jax.random.key(1), 1), run(jax.random.key(1), 1)
    assert _bitwise_equal(a, b)
    assert _bitwise_equal(a, run(jax.random.key(1), 2))
    assert not np.array_equal(_leaves(a.final.params)[0],
                              _leaves(run(jax.random.key(2), 1).final.params)[0])


def test_stochastic_game_needs_a_key_and_others_refuse_one():
    with pytest.raises(ValueError, match=r"stochastic.*pass key=jax.random.key"):
        dynamics.simulate(GAN, GAN_DYN, GAN_START, 4)
    gan = games.gan_mixture("ring8", batch_size=8, hidden=4, latent_dim=2)
    with pytest.raises(ValueError, match=r"GANMixture is stochastic"):
        dynamics.simulate(gan, GAN_DYN, gan.init(jax.random.key(0)), 4)
    with pytest.raises(ValueError, match="has none. Drop key="):
        dynamics.simulate(XY, dynamics.simgd(0.1), XY.init(jax.random.key(0)), 4,
                          key=jax.random.key(0))


# ------------------------------------------------------------------ chunks and progress

@pytest.mark.parametrize("make", [
    lambda: dynamics.momentum(0.1, -0.4, alternating=True),
    lambda: dynamics.complex_momentum(0.3, 0.8 * np.exp(0.4j)),
    lambda: dynamics.optimistic(0.2),
], ids=["momentum_alternating", "complex_momentum", "optimistic"])
def test_chunked_run_is_identical_to_one_call(make):
    game = games.dirac_gan(0.1)
    start = game.init(jax.random.key(4))
    whole = dynamics.simulate(game, make(), start, 300, every=10)
    for chunks in (3, 7):         # 30 records: equal chunks, and a shorter last one
        assert _bitwise_equal(whole, dynamics.simulate(game, make(), start, 300, every=10,
                                                       chunks=chunks))


def test_progress_is_reported_after_every_chunk_eagerly_and_under_vmap_and_jit():
    game, dyn = games.dirac_gan(0.1), dynamics.simgd(0.1)
    start = game.init(jax.random.key(0))
    calls = []
    dynamics.simulate(game, dyn, start, 100, every=10, chunks=4,
                      progress=lambda done, total: calls.append((done, total)))
    assert calls == [(30, 100), (60, 100), (90, 100), (100, 100)]

    calls.clear()
    starts = jax.tree_util.tree_map(lambda x: jnp.stack([x, x + 1]), start)
    jax.vmap(lambda p: dynamics.simulate(game, dyn, p, 100, every=10, chunks=4,
                                         progress=lambda d, t: calls.append((d, t))))(starts)
    assert calls == [(30, 100), (60, 100), (90, 100), (100, 100)]   # once per chunk

    calls.clear()
    run = jax.jit(lambda p: dynamics.simulate(game, dyn, p, 100, every=10, chunks=2,
                                              progress=lambda d, t: calls.append((d, t))))
    jax.block_until_ready(run(start))
    assert calls == [(50, 100), (100, 100)]
    with pytest.raises(TypeError, match="progress must be"):
        dynamics.simulate(game, dyn, start, 10, progress="yes")


# ------------------------------------------------------------------ first-hit events

def test_event_gives_steps_to_tolerance_from_the_closed_form():
    # Extragradient on L = xy: omega <- ((1 - lr^2) I - lr J) omega, a scaled rotation,
    # so the distance is exactly d0 rho^t with rho = sqrt(1 - lr^2 + lr^4).
    lr, tol = 0.3, 1e-6
    start = (jnp.array([0.6]), jnp.array([-0.8]))
    rho = math.sqrt(1 - lr**2 + lr**4)
    within = lambda g, p: dynamics.distance_to_equilibrium(g, p) <= tol
    traj = dynamics.simulate(XY, dynamics.extragradient(lr), start, 1000, every=1000,
                             metrics=(), events={"converged": within,
                                                 "never": lambda g, p: False,
                                                 "at_start": lambda g, p: True})
    assert int(traj.events["converged"]) == math.ceil(math.log(tol) / math.log(rho))
    assert int(traj.events["never"]) == -1 and int(traj.events["at_start"]) == 0
    assert traj.steps.tolist() == [0, 1000]


# ------------------------------------------------------------------ guard and options

def test_memory_guard_refuses_records_that_do_not_fit_and_suggests_every():
    with pytest.raises(ValueError, match=r"every=\d+"):
        dynamics.simulate(XY, dynamics.simgd(0.1), XY.init(jax.random.key(0)), 2**40)


def test_record_params_false_keeps_only_metrics():
    traj = dynamics.simulate(XY, dynamics.simgd(0.1), XY.init(jax.random.key(0)), 10,
                             metrics=("losses",), record_params=False)
    assert traj.params is None and traj.metrics["losses"].shape == (11, 2)
