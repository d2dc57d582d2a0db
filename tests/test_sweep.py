"""dynamics.sweep: the generic grid sweep, its closed forms, its sharding over
devices and processes, and gamedyn sweep.

Oracles: the closed-form spectral radii of momentum, extragradient and
optimistic GD on L = xy (their characteristic polynomials, written out here in
NumPy), a
Python loop of ``spectral_radius``/``simulate`` per point, and a one-process,
one-device run of the same sweep.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

ROOT = Path(__file__).resolve().parents[1]
XY = games.bilinear(jnp.eye(1))


# ------------------------------------------------------------------ closed forms

def _radius_momentum(lr, beta):
    # x_{t+1} = x_t - lr y_t + beta (x_t - x_{t-1}), y symmetric: per eigenvalue +-i
    # of J the characteristic polynomial z^2 - (1 + beta - lr * (+-i)) z + beta.
    out = []
    for s in (1j, -1j):
        out += list(np.abs(np.roots([1.0, -(1 + beta - lr * s), beta])))
    return max(out)


def _radius_extragradient(lr):
    # one step: I - lr J + lr^2 J^2 with J's eigenvalues +-i
    return abs(1 - lr * 1j + (lr * 1j) ** 2)


def _radius_optimistic(lr):
    # z^2 - (1 - 2 lr lambda) z - lr lambda = 0 for lambda = +-i
    return max(max(np.abs(np.roots([1.0, -(1 - 2 * lr * s), -lr * s]))) for s in (1j, -1j))


def test_momentum_extragradient_optimistic_rates_on_xy_match_closed_forms():
    lrs, betas = np.linspace(0.05, 0.9, 7), np.linspace(-0.8, 0.8, 9)
    res = dynamics.sweep(XY, dynamics.momentum, {"lr": lrs, "beta": betas})
    assert res.values["spectral_radius"].shape == (7, 9) and res.shape == (7, 9)
    want = np.array([[_radius_momentum(a, b) for b in betas] for a in lrs])
    np.testing.assert_allclose(res.values["spectral_radius"], want, rtol=0, atol=1e-10)
    for factory, closed in [(dynamics.extragradient, _radius_extragradient),
                            (dynamics.optimistic, _radius_optimistic)]:
        res = dynamics.sweep(XY, factory, {"lr": lrs})
        np.testing.assert_allclose(res.values["spectral_radius"],
                                   [closed(a) for a in lrs], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(res.axes["lr"], lrs)


def test_complex_momentum_heatmaps_are_thin_uses_of_the_sweep():
    game = games.dirac_gan(0.0)
    lrs, mags, args = np.array([0.3, 0.5]), np.linspace(0, 0.95, 5), np.linspace(0, np.pi, 4)
    got = dynamics.spectral_radius_grid(game, lrs, mags, args)
    jit_radius = jax.jit(dynamics.spectral_radius)
    want = np.array([[[jit_radius(game, dynamics.complex_momentum(
        a, m * np.exp(1j * t)), game.equilibrium()) for t in args] for m in mags]
        for a in lrs])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    start = (jnp.asarray(0.1), jnp.asarray(-0.05))
    steps = dynamics.steps_to_tolerance_grid(game, start, lrs[:1], mags, args, steps=300,
                                             tol=1e-3)
    for j, m in enumerate(mags):
        for k, t in enumerate(args):
            traj = dynamics.simulate(game, dynamics.complex_momentum(0.3, m * np.exp(1j * t)),
                                     start, 300, metrics=("distance",))
            hit = np.flatnonzero(np.asarray(traj.metrics["distance"]) <= 1e-3)
            assert steps[0, j, k] == (hit[0] if hit.size else np.inf), (m, t)


def test_steps_final_starts_games_and_divergence():
    start = (jnp.array([0.3]), jnp.array([-0.2]))
    lrs = np.array([0.1, 0.4, 5.0])                   # 5.0: spirals out, overflows
    res = dynamics.sweep(XY, dynamics.extragradient, {"lr": lrs},
                         measure=("steps", "final"), params=start, steps=400, tol=1e-4)
    for i, lr in enumerate(lrs):
        traj = dynamics.simulate(XY, dynamics.extragradient(lr), start, 400,
                                 metrics=("distance", "losses"))
        d = np.asarray(traj.metrics["distance"])
        hit = np.flatnonzero(d <= 1e-4)
        assert res.values["steps"][i] == (hit[0] if hit.size else np.inf)
        # the sweep records no metric: its divergence is the state's (the losses
        # metric, x * y, overflows sooner)
        state_only = dynamics.simulate(XY, dynamics.extragradient(lr), start, 400,
                                       metrics=())
        assert res.values["diverged_at"][i] == int(state_only.diverged_at)
        if int(traj.diverged_at) < 0:
            np.testing.assert_allclose(res.values["final_distance"][i], d[-1], rtol=1e-12)
            np.testing.assert_allclose(res.values["final_losses"][i],
                                       traj.metrics["losses"][-1], rtol=1e-12, atol=1e-300)
    assert res.values["diverged_at"][2] > 0 and res.values["steps"][2] == np.inf
    # best: finite values only, smallest first (lr 0.1 is too slow for 400 steps)
    assert [r["lr"] for r in res.best("steps", 3)] == [0.4]
    assert [r["lr"] for r in res.best("final_distance", 3)] == [0.4, 0.1]
    # a zipped grid over stacked starts and a stacked family of games
    starts = jax.tree_util.tree_map(lambda *x: jnp.stack(x), start,
                                    (jnp.array([1.0]), jnp.array([1.0])))
    gammas = jnp.array([0.0, 0.5])
    fam = jax.vmap(lambda g: games.adversarial(g))(gammas)
    res = dynamics.sweep(games.adversarial(0.0), dynamics.simgd,
                         {"lr": [0.05, 0.1], "game": fam}, measure="rate")
    for i, lr in enumerate([0.05, 0.1]):
        for j, g in enumerate(np.asarray(gammas)):
            want = dynamics.spectral_radius(games.adversarial(float(g)), dynamics.simgd(lr),
                                            games.adversarial(float(g)).equilibrium())
            np.testing.assert_allclose(res.values["spectral_radius"][i, j], want, atol=1e-12)
    res = dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1, 0.2], "start": starts},
                         measure="final", params=None, steps=10, product=False)
    assert res.shape == (2,) and res.values["final_losses"].shape == (2, 2)
    for i, lr in enumerate([0.1, 0.2]):
        p = jax.tree_util.tree_map(lambda x: x[i], starts)
        traj = dynamics.simulate(XY, dynamics.simgd(lr), p, 10)
        np.testing.assert_allclose(res.values["final_losses"][i], traj.metrics["losses"][-1],
                                   rtol=1e-12, atol=1e-15)


def test_phase_times_and_one_compilation_for_repeated_sweeps():
    from dynamics import _sweep
    grid = {"lr": np.linspace(0.05, 0.2, 3), "beta": [0.1, 0.3]}
    first = dynamics.sweep(XY, dynamics.momentum, grid, measure="rate")
    compiled = len(_sweep._EXECUTABLES)
    again = dynamics.sweep(XY, dynamics.momentum, {"lr": grid["lr"] + 0.01, "beta": [0, 0.2]},
                           measure="rate")
    assert len(_sweep._EXECUTABLES) == compiled       # new values, same program
    for res in (first, again):
        assert set(res.seconds) == {"compile", "device", "host"}
        assert all(np.isfinite(v) and v >= 0 for v in res.seconds.values())
    np.testing.assert_allclose(again.values["spectral_radius"][0, 1],
                               _radius_momentum(0.06, 0.2), atol=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match=r"unknown hyperparameter 'bta'.*valid: lr, beta"):
        dynamics.sweep(XY, dynamics.momentum, {"lr": [0.1], "bta": [0.5]})
    with pytest.raises(ValueError, match="non-empty 1-D"):
        dynamics.sweep(XY, dynamics.momentum, {"lr": []})
    with pytest.raises(ValueError, match="non-finite values at positions \\[1\\]"):
        dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1, np.nan]})
    with pytest.raises(ValueError, match="non-empty dict"):
        dynamics.sweep(XY, dynamics.simgd, {})
    with pytest.raises(ValueError, match="measure must be one of rate, steps, final"):
        dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1]}, measure="speed")
    with pytest.raises(ValueError, match="pass params="):
        dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1]}, measure="steps")
    with pytest.raises(ValueError, match="equal lengths"):
        dynamics.sweep(XY, dynamics.momentum, {"lr": [0.1, 0.2], "beta": [0.1]},
                       product=False)
    import dynamics._sweep as impl
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(impl, "memory_budget", lambda: 1 << 16)
        with pytest.raises(ValueError, match=r"pass chunks=\d+ or more"):
            dynamics.sweep(XY, dynamics.simgd, {"lr": np.linspace(0.01, 1, 4096)}, chunks=1)
        # without chunks= the sweep splits itself and gives the same numbers
        small = dynamics.sweep(XY, dynamics.simgd, {"lr": np.linspace(0.01, 1, 64)})
    np.testing.assert_array_equal(small.values["spectral_radius"], dynamics.sweep(
        XY, dynamics.simgd, {"lr": np.linspace(0.01, 1, 64)}).values["spectral_radius"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(impl, "memory_budget", lambda: 1)
        with pytest.raises(ValueError, match="one grid point needs about"):
            dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1, 0.2]})
    start = (jnp.array([0.3]), jnp.array([-0.2]))
    for kwargs, error, message in [
            (dict(measure=None), ValueError, "measure must be one of"),
            (dict(devices=[]), ValueError, "devices is empty"),
            (dict(grid={"lr": [0.1], "start": (jnp.zeros((3, 1)), jnp.zeros((2, 1)))}),
             ValueError, r"share a leading axis.*\(3, 1\), \(2, 1\)"),
            (dict(grid={"lr": [0.1], "game": games.bilinear(jnp.eye(3))}), ValueError,
             "must be a stack of games like game="),
            (dict(factory=lambda lr: lr), TypeError, "returned ArrayImpl|returned DynamicJaxprTracer"),
            (dict(factory=dynamics.momentum, grid={"lr": [0.1]}), ValueError,
             "momentum needs beta: add them to the grid"),
            (dict(factory=dynamics.momentum,
                  grid={"lr": [0.1], "beta": [0.5], "alternating": [0, 1]}),
             TypeError, "uses one of lr, beta, alternating in Python control flow")]:
        args = dict(factory=dynamics.simgd, grid={"lr": [0.1]}, measure="rate")
        args.update(kwargs)
        with pytest.raises(error, match=message):
            dynamics.sweep(XY, args.pop("factory"), args.pop("grid"), params=start, **args)
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match=r"do not fit int32.*positions \[0\]"):
            dynamics.sweep(XY, dynamics.simgd, {"lr": np.array([2**40, 2])})
        with pytest.raises(ValueError, match=r"do not fit float32.*positions \[1\]"):
            dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1, 1e39]})
    res = dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1, 0.2]})
    with pytest.raises(KeyError, match="no quantity 'steps'.*spectral_radius"):
        res.best("steps")
    with pytest.raises(ValueError, match="k must be an int >= 1; got 0"):
        res.best("spectral_radius", 0)
    for columns, message in [((), r"one or more columns.*\[\]"),
                             (([1.0, 2.0], [1.0]), r"\[\(2,\), \(1,\)\]"),
                             (([],), r"\[\(0,\)\]")]:
        with pytest.raises(ValueError, match=message):
            dynamics.grid_map(lambda ctx, *c: c[0], None, *columns)
    with pytest.raises(ValueError, match="chunks must be an int >= 1; got 0"):
        dynamics.grid_map(lambda ctx, c: c, None, [1.0], chunks=0)


def test_each_game_of_a_game_axis_is_measured_at_its_own_equilibrium():
    # L_1 = x y + b x, L_2 = -x y + c y: the equilibrium (-c, -b) moves with b.
    start = (jnp.array([0.1]), jnp.array([-0.1]))
    offsets = jnp.array([[0.0], [1.0], [-2.0]])
    stack = jax.vmap(lambda b: games.bilinear(jnp.eye(1), b, jnp.array([0.5])))(offsets)
    res = dynamics.sweep(games.bilinear(jnp.eye(1), jnp.zeros(1), jnp.array([0.5])),
                         dynamics.extragradient, {"game": stack, "lr": [0.5]},
                         measure=("rate", "steps", "final"), params=start, steps=500,
                         tol=1e-3)
    for i, b in enumerate(np.asarray(offsets)):
        g = games.bilinear(jnp.eye(1), jnp.asarray(b), jnp.array([0.5]))
        eq = g.equilibrium()
        traj = dynamics.simulate(g, dynamics.extragradient(0.5), start, 500,
                                 metrics=("distance",))
        d = np.asarray(traj.metrics["distance"])
        assert res.values["steps"][i, 0] == np.flatnonzero(d <= 1e-3)[0]
        np.testing.assert_allclose(res.values["final_distance"][i, 0], d[-1], atol=1e-12)
        np.testing.assert_allclose(res.values["spectral_radius"][i, 0], dynamics.spectral_radius(
            g, dynamics.extragradient(0.5), eq), atol=1e-12)
    assert np.all(np.isfinite(res.values["steps"]))


def test_stochastic_games_take_a_key_shared_by_every_point():
    game = games.gan_mixture("ring8", batch_size=8, latent_dim=2, hidden=4)
    start = game.init(jax.random.key(0))
    lrs = [0.01, 0.05]
    with pytest.raises(ValueError, match="pass key="):
        dynamics.sweep(game, dynamics.simgd, {"lr": lrs}, measure="final", params=start,
                       steps=5)
    res = dynamics.sweep(game, dynamics.simgd, {"lr": lrs}, measure="final", params=start,
                         steps=5, key=jax.random.key(3))
    for i, lr in enumerate(lrs):
        traj = dynamics.simulate(game, dynamics.simgd(lr), start, 5, every=5, metrics=(),
                                 key=jax.random.key(3))
        np.testing.assert_allclose(res.values["final_losses"][i],
                                   game.losses(traj.final.params), rtol=1e-5)


# ------------------------------------------------------------------ gamedyn sweep

GRID = "lr=0.1:0.5:5,beta=-0.5:0.5:3"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices=None):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _gamedyn(*args, env):
    return subprocess.Popen([sys.executable, "-m", "experiments.cli", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_defaults_table_files_and_bad_input(tmp_path, capsys):
    from experiments.cli import main
    assert main(["sweep", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "spectral_radius over lr 0.01..0.5 (64) x beta -0.9..0.9 (64)" in out
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    arrays = np.load(tmp_path / "run" / "sweep.npz")
    assert arrays["spectral_radius"].shape == (64, 64) and res["points"] == 4096
    assert (tmp_path / "run" / "sweep.png").exists()
    best = res["best"][0]
    assert best["spectral_radius"] == arrays["spectral_radius"].min()
    assert best["beta"] < 0          # alternating momentum: negative beta (Gidel et al.)
    for argv, message in [
            (["--grid", "lr=0.1:0.5:4,bta=0:1:3"], "unknown hyperparameter 'bta'"),
            (["--grid", "lr=0.1:0.5"], "low:high:count"),
            (["--grid", "lr=nan"], "not finite"),
            (["--coordinator", "127.0.0.1:1"], "need --distributed"),
            (["--grid", "game=0.1:0.2:2"], "stacked games are for dynamics.sweep"),
            (["--grid", "lr=0:1:1000000000000"], "more than")]:
        assert main(["sweep", *argv, "--out", str(tmp_path / "bad")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    # axes matplotlib cannot draw: the run and its files stand, without the heatmap
    assert main(["sweep", "--grid", "lr=1e307:1.5e308:3,beta=0.5:0.9:2",
                 "--out", str(tmp_path / "huge")]) == 0
    assert "(no heatmap" in capsys.readouterr().out
    assert (tmp_path / "huge" / "sweep.npz").exists()


@pytest.mark.slow
def test_two_processes_with_two_devices_each_equal_one_device(tmp_path):
    port, out = _free_port(), tmp_path / "dist"
    procs = [_gamedyn("sweep", "--grid", GRID, "--measure", "steps", "--distributed",
                      "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                      "--process-id", str(i), "--no-plots", "--out", str(out),
                      env=_env(devices=2)) for i in range(2)]
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
    res = json.loads((out / "results.json").read_text())
    assert res["devices"] == {"count": 4, "processes": 2, "platform": "cpu"}
    single = _gamedyn("sweep", "--grid", GRID, "--measure", "steps", "--no-plots", "--out",
                      str(tmp_path / "one"), env=_env())
    assert single.wait(timeout=300) == 0, single.stderr.read()[-2000:]
    a, b = np.load(out / "sweep.npz"), np.load(tmp_path / "one" / "sweep.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])
    assert np.isfinite(a["steps"]).any() and not np.isfinite(a["steps"]).all()


_GRID_MAP_SCRIPT = """
import sys, jax, numpy as np
port, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
import jax.numpy as jnp, dynamics
a, b = np.linspace(0.0, 1.0, 11), np.arange(11.0) ** 2
got = dynamics.grid_map(lambda ctx, x, y: ctx * x + jnp.sqrt(y), 3.0, a, b, chunks=2)
index = next(reversed(dynamics._sweep._EXECUTABLES.values())).input_shardings[0][1]
np.savez(out, got=got, want=3.0 * a + np.sqrt(b), devices=len(index.device_set))
"""


@pytest.mark.slow
def test_grid_map_spans_the_devices_of_two_processes(tmp_path):
    port = _free_port()
    script = tmp_path / "grid_map.py"
    script.write_text(_GRID_MAP_SCRIPT)
    procs = [subprocess.Popen([sys.executable, str(script), str(port), str(i),
                               str(tmp_path / f"p{i}.npz")], cwd=ROOT, env=_env(devices=2),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        _, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
    for i in range(2):
        res = np.load(tmp_path / f"p{i}.npz")
        assert int(res["devices"]) == 4
        np.testing.assert_allclose(res["got"], res["want"], rtol=1e-6)


def test_an_unreachable_coordinator_is_a_clear_error_not_a_hang(tmp_path):
    p = _gamedyn("sweep", "--distributed", "--coordinator", f"127.0.0.1:{_free_port()}",
                 "--num-processes", "2", "--process-id", "1", "--timeout", "2",
                 "--out", str(tmp_path / "x"), env=_env())
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 2, stderr[-2000:]
    assert "no coordinator answered at 127.0.0.1:" in stderr and "within --timeout 2 s" in stderr
    assert not (tmp_path / "x").exists()
