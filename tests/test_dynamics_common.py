"""Checks every dynamics must pass, driven by a registry of all of them.

For each (dynamics, game): finite outputs; the state's tree structure, shapes
and dtypes are kept; ``simulate`` (one ``lax.scan``) equals a Python loop of
``dyn.step``; ``jax.jit(dyn.step)`` equals the eager (op-by-op) step; and a
second ``simulate`` with new values of the same shapes (a dynamics rebuilt with
other hyperparameters, a new game, a new start) compiles nothing.  ``vmap``
over starts equals a loop for every dynamics on one game (compile time).  On the
Dirac GAN (0-d parameters) the scan-against-loop checks give way to
tests/test_scalar_reference.py, which runs every dynamics' ``simulate`` against an
independent NumPy loop.

The registries live in tests/_registry.py; tests/test_registries.py fails when
an exported dynamics is missing from them.
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynamics
from _registry import DYNAMICS, PLAYERS
from _registry import DYNAMICS_GAMES as GAMES

T = 4                       # steps per run: enough for every buffer to be used
METRICS = ("losses",)       # (the distance metric is covered elsewhere; it costs compile time)

# name -> scale -> Dynamics (tests/_registry.py holds the factory names too).
REGISTRY = {name: build for name, (_, build) in DYNAMICS.items()}

CASES = [(d, g) for d in REGISTRY for g in GAMES
         if d not in PLAYERS or GAMES[g](1.0).num_players == PLAYERS[d]]
IDS = [f"{d}-{g}" for d, g in CASES]


def _start(game, seed=0):
    return game.init(jax.random.key(seed))


def _leaves(tree):
    # PRNG keys (stochastic dynamics carry one) compare by their key data.
    return [np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
                       else x) for x in jax.tree_util.tree_leaves(tree)]


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


# On the Dirac GAN (0-d parameters) every dynamics' simulate is checked against
# an independent NumPy loop instead (tests/test_scalar_reference.py).
LOOP_CASES = [(d, g) for d, g in CASES if g != "dirac_gan"]


@pytest.mark.parametrize("dyn_name,game_name", LOOP_CASES,
                         ids=[f"{d}-{g}" for d, g in LOOP_CASES])
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


@pytest.mark.parametrize("dyn_name,game_name", LOOP_CASES,
                         ids=[f"{d}-{g}" for d, g in LOOP_CASES])
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
