"""Checks every dynamics must pass, driven by a registry of all of them.

For each (dynamics, game): finite outputs; the state's tree structure, shapes
and dtypes are kept; ``simulate`` (one ``lax.scan``) equals a Python loop of
``dyn.step``; ``jax.jit(dyn.step)`` equals the eager (op-by-op) step; and a
second ``simulate`` with new values of the same shapes (a dynamics rebuilt with
other hyperparameters, a new game, a new start) compiles nothing.  ``vmap``
over starts equals a loop for every dynamics on one game (compile time).

When a dynamics is added to the package, add it to REGISTRY.
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynamics
import games

T = 4                       # steps per run: enough for every buffer to be used
METRICS = ("losses",)       # (the distance metric is covered elsewhere; it costs compile time)

# One optimiser object per entry: from_optax(same object) must not recompile.
ADAM = optax.adam(1e-2)
SGD = optax.sgd(0.1)

# name -> scale -> Dynamics.  scale = 1 and scale = 2 build the same dynamics with
# other hyperparameter values (the no-recompilation check uses both).
REGISTRY = {
    "simgd": lambda s: dynamics.simgd(0.1 * s),
    "alternating": lambda s: dynamics.alternating(0.1 * s),
    "momentum_negative": lambda s: dynamics.momentum(0.1 * s, -0.3 * s),
    "extragradient": lambda s: dynamics.extragradient(0.1 * s),
    "optimistic": lambda s: dynamics.optimistic(0.1 * s),
    "consensus": lambda s: dynamics.consensus(0.1 * s, 0.5 * s),
    "sga_align": lambda s: dynamics.sga(0.1 * s, 1.0 * s, align=True),
    "sga_plain": lambda s: dynamics.sga(0.1 * s, 1.0 * s, align=False),
    "lola": lambda s: dynamics.lola(0.1 * s, 0.5 * s),
    "optax_adam": lambda s: dynamics.from_optax(ADAM),
    "optax_sgd_alternating": lambda s: dynamics.from_optax(SGD, alternating=True),
    "optax_adam_factory": lambda s: dynamics.from_optax(optax.adam, learning_rate=1e-2 * s),
    "complex_momentum": lambda s: dynamics.complex_momentum(0.1 * s, 0.8 * np.exp(0.3j * s)),
    "complex_momentum_alternating": lambda s: dynamics.complex_momentum(
        0.1 * s, 0.8 * np.exp(0.3j * s), alternating=True),
    "complex_momentum_complex_lr": lambda s: dynamics.complex_momentum(
        0.1 * s * np.exp(0.2j), 0.8 * np.exp(0.3j * s)),
    "aggregated_momentum": lambda s: dynamics.aggregated_momentum(
        [0.05 * s, 0.05 * s], [0.5 * s, -0.4 + 0.3j]),
    "recurrent_momentum": lambda s: dynamics.recurrent_momentum(
        np.array([[0.7, -0.3 * s], [0.3 * s, 0.7]]), np.array([0.1 * s, 0.02])),
    "complex_adam": lambda s: dynamics.complex_adam(1e-2 * s, 0.8 * np.exp(0.3j * s)),
}


# A 3-player game with a dict-valued player, built from module-level losses so
# that games differing only in ``data`` share one compiled program.
def _loss_0(p, d):
    a, y, z = p
    return 0.5 * a["w"] @ a["w"] + a["w"] @ d["M01"] @ y + d["c"] * jnp.tanh(a["b"]) * z[0]


def _loss_1(p, d):
    a, y, z = p
    return 0.5 * y @ y - a["w"] @ d["M01"] @ y + y @ d["M12"] @ z


def _loss_2(p, d):
    a, y, z = p
    return 0.5 * z @ z - y @ d["M12"] @ z + d["c"] * a["b"] ** 2 * jnp.sum(z)


_TEMPLATE = ({"w": jnp.zeros(2), "b": jnp.zeros(())}, jnp.zeros(2), jnp.zeros(3))
_RNG = np.random.default_rng(0)
_DATA = {"M01": _RNG.normal(size=(2, 2)), "M12": _RNG.normal(size=(2, 3)),
         "c": np.float64(0.3)}
_A = np.array([[1.0, 0.5], [-0.3, 0.8]])

GAMES = {
    "bilinear_2x2": lambda s: games.bilinear(s * _A),
    "three_player": lambda s: games.from_losses(
        _loss_0, _loss_1, _loss_2, init=_TEMPLATE,
        data={k: jnp.asarray(s * v) for k, v in _DATA.items()}),
    "dirac_gan": lambda s: games.dirac_gan(0.1 * s),
}

CASES = [(d, g) for d in REGISTRY for g in GAMES]
IDS = [f"{d}-{g}" for d, g in CASES]


def _start(game, seed=0):
    return game.init(jax.random.key(seed))


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _assert_trees_close(got, want, rtol=1e-10, atol=1e-12):
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    for a, b in zip(_leaves(got), _leaves(want)):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        if np.issubdtype(a.dtype, np.inexact):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(a, b)


_JIT_STEPS = {}


def _loop_states(dyn_name, game_name):
    """init and T steps of ``jax.jit(dyn.step)`` in a Python loop, cached across tests."""
    key = (dyn_name, game_name)
    if key not in _JIT_STEPS:
        game, dyn = GAMES[game_name](1.0), REGISTRY[dyn_name](1.0)
        step = jax.jit(dyn.step)
        states = [dyn.init(_start(game))]
        for _ in range(T):
            states.append(step(game, states[-1]))
        _JIT_STEPS[key] = states
    return _JIT_STEPS[key]


@pytest.mark.parametrize("dyn_name,game_name", CASES, ids=IDS)
def test_simulate_equals_loop_finite_and_structure_kept(dyn_name, game_name):
    game, dyn = GAMES[game_name](1.0), REGISTRY[dyn_name](1.0)
    p0 = _start(game)
    traj = dynamics.simulate(game, dyn, p0, T, metrics=METRICS)
    states = _loop_states(dyn_name, game_name)

    # finite outputs, no divergence reported
    for x in _leaves(traj):
        if np.issubdtype(x.dtype, np.inexact):
            assert np.all(np.isfinite(x))
    assert int(traj.diverged_at) == -1

    # tree structure, shapes and dtypes of params and state kept
    init = dyn.init(p0)
    assert jax.tree_util.tree_structure(traj.final) == jax.tree_util.tree_structure(init)
    assert jax.tree_util.tree_structure(traj.final.params) == jax.tree_util.tree_structure(p0)
    for a, b in zip(jax.tree_util.tree_leaves(traj.final), jax.tree_util.tree_leaves(init)):
        assert a.shape == b.shape and a.dtype == b.dtype
    assert jax.tree_util.tree_structure(traj.params) == jax.tree_util.tree_structure(p0)
    for a, b in zip(jax.tree_util.tree_leaves(traj.params), jax.tree_util.tree_leaves(p0)):
        assert a.shape == (T + 1,) + b.shape and a.dtype == b.dtype
    assert int(traj.final.count) == T
    np.testing.assert_array_equal(traj.steps, np.arange(T + 1))

    # scan equals the Python loop, at every recorded step and in the final state
    for t in range(T + 1):
        _assert_trees_close(jax.tree_util.tree_map(lambda x: x[t], traj.params),
                            states[t].params)
    _assert_trees_close(traj.final, states[-1])
    losses = jax.jit(type(game).losses)
    np.testing.assert_allclose(traj.metrics["losses"],
                               np.stack([losses(game, s.params) for s in states]),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dyn_name,game_name", CASES, ids=IDS)
def test_jit_step_equals_eager(dyn_name, game_name):
    game, dyn = GAMES[game_name](1.0), REGISTRY[dyn_name](1.0)
    states = _loop_states(dyn_name, game_name)
    # one eager step (op by op, no jit) from a state whose buffers are filled
    _assert_trees_close(states[3], dyn.step(game, states[2]))


VMAP_GAMES = ["bilinear_2x2"]


@pytest.mark.parametrize("dyn_name", list(REGISTRY))
@pytest.mark.parametrize("game_name", VMAP_GAMES)
def test_vmap_over_starts_equals_loop(dyn_name, game_name):
    game, dyn = GAMES[game_name](1.0), REGISTRY[dyn_name](1.0)
    starts = [_start(game, seed) for seed in (1, 2, 3)]
    batch = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *starts)
    got = jax.vmap(lambda p: dynamics.simulate(game, dyn, p, T, metrics=METRICS).final)(batch)
    for k, p in enumerate(starts):
        want = dynamics.simulate(game, dyn, p, T, metrics=METRICS).final
        _assert_trees_close(jax.tree_util.tree_map(lambda x: x[k], got), want)


@contextlib.contextmanager
def count_compilations():
    """Collect the names of the XLA programs compiled inside the block."""
    compiled = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(kwargs.get("fun_name", "?"))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield compiled
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


@pytest.mark.parametrize("dyn_name,game_name", CASES, ids=IDS)
def test_no_recompilation_for_new_values(dyn_name, game_name):
    def run(scale, seed):
        game, dyn = GAMES[game_name](scale), REGISTRY[dyn_name](scale)
        traj = dynamics.simulate(game, dyn, _start(game, seed), T, metrics=METRICS)
        return jax.block_until_ready(traj)

    first = run(1.0, 0)
    with count_compilations() as compiled:
        second = run(2.0, 5)
    assert compiled == [], f"second call compiled {compiled}"
    # and the second call did run with the new values
    assert not np.allclose(_leaves(first.final.params)[0], _leaves(second.final.params)[0])


def test_from_optax_new_optimizer_object_recompiles_but_same_object_does_not():
    # Documented behaviour: a built optimiser is static (its closure holds lr).
    game = GAMES["bilinear_2x2"](1.0)
    p = _start(game)
    opt = optax.sgd(0.05)
    dynamics.simulate(game, dynamics.from_optax(opt), p, T, metrics=METRICS)
    with count_compilations() as same:
        dynamics.simulate(game, dynamics.from_optax(opt), p, T, metrics=METRICS)
    with count_compilations() as new:
        dynamics.simulate(game, dynamics.from_optax(optax.sgd(0.05)), p, T, metrics=METRICS)
    assert same == [] and len(new) >= 1



def test_bad_hyperparameters_raise_clear_errors():
    with pytest.raises(ValueError, match="positive"):
        dynamics.simgd(-0.1)
    with pytest.raises(ValueError, match="positive"):
        dynamics.extragradient(0.0)
    with pytest.raises(ValueError, match="finite"):
        dynamics.lola(0.1, float("nan"))
    with pytest.raises(TypeError, match="real"):
        dynamics.momentum(0.1, 0.9 + 0.1j)
    with pytest.raises(TypeError, match="real number"):
        dynamics.consensus(0.1, gamma=True)
    with pytest.raises(TypeError, match="real number"):
        dynamics.sga(0.1, lam="1")
