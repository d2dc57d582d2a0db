"""nets.mlp, the 2-D mixture GAN game and `gamedyn gan` (x64 is on: see conftest)."""

import argparse
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynamics
from experiments import gan
from games import check_params
from games import gan_mixture, mixture_modes
from nets import mlp

PNG = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- nets.mlp

def test_mlp_shapes_dtypes_and_init_scale():
    net = mlp((3, 5, 4, 2))
    params = net.init(jax.random.key(0))
    assert [(w.shape, b.shape) for w, b in params] == [((3, 5), (5,)), ((5, 4), (4,)),
                                                        ((4, 2), (2,))]
    # float32 by default, also with x64 enabled.
    assert all(w.dtype == jnp.float32 and b.dtype == jnp.float32 for w, b in params)
    assert all(not np.any(np.asarray(b)) for _, b in params)            # zero biases
    assert net.apply(params, jnp.ones(3)).shape == (2,)
    batch = jax.random.normal(jax.random.key(1), (7, 6, 3))
    y = net.apply(params, batch)
    assert y.shape == (7, 6, 2)
    np.testing.assert_allclose(y[4, 2], net.apply(params, batch[4, 2]), rtol=1e-6)
    # He-normal before a ReLU (var 2/fan_in), Glorot-normal otherwise (2/(in+out)).
    # (relative standard error of a std estimate from N draws: 1/sqrt(2N) < 0.5%)
    big = mlp((200, 150, 100), dtype=jnp.float64).init(jax.random.key(2))
    assert np.std(big[0][0]) == pytest.approx(math.sqrt(2 / 200), rel=0.02)
    assert np.std(big[1][0]) == pytest.approx(math.sqrt(2 / 250), rel=0.02)
    tanh = mlp((200, 150, 100), activation="tanh", dtype=jnp.float64).init(jax.random.key(3))
    assert np.std(tanh[0][0]) == pytest.approx(math.sqrt(2 / 350), rel=0.02)
    # Same architecture -> equal, hashable functions (no recompilation as static fields).
    assert mlp((3, 5, 4, 2)) == net and hash(mlp((3, 5, 4, 2))) == hash(net)
    assert mlp((3, 5, 4, 2), activation="tanh") != net


def test_mlp_matches_a_numpy_forward_pass_and_finite_differences():
    net = mlp((3, 4, 2), activation="tanh", final_activation="tanh", dtype=jnp.float64)
    params = net.init(jax.random.key(0))
    x = np.array([0.3, -1.2, 0.7])
    (w1, b1), (w2, b2) = [(np.asarray(w), np.asarray(b)) for w, b in params]
    np.testing.assert_allclose(net.apply(params, x),
                               np.tanh(np.tanh(x @ w1 + b1) @ w2 + b2), rtol=1e-13)

    @jax.jit
    def f(p):
        return jnp.sum(net.apply(p, x) ** 2)
    grads = jax.grad(f)(params)
    h = 1e-6
    for layer in range(2):
        for slot in range(2):
            leaf = np.asarray(params[layer][slot])
            for idx in np.ndindex(leaf.shape):
                def shifted(delta, leaf=leaf, idx=idx, layer=layer, slot=slot):
                    new = leaf.copy()
                    new[idx] += delta
                    p = [list(pair) for pair in params]
                    p[layer][slot] = jnp.asarray(new)
                    return float(f([tuple(pair) for pair in p]))
                fd = (shifted(h) - shifted(-h)) / (2 * h)
                assert float(grads[layer][slot][idx]) == pytest.approx(fd, abs=1e-8)


@pytest.mark.parametrize("sizes", [(), (3,), (2, 0, 1), (2, 1.5, 1), (2, True, 1), "abc", 4])
def test_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes|width"):
        mlp(sizes)


def test_mlp_rejects_bad_activations_and_inputs():
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        mlp((2, 3), activation="swishy")
    with pytest.raises(TypeError, match="activation"):
        mlp((2, 3), activation=3)
    net = mlp((2, 3))
    with pytest.raises(ValueError, match=r"inputs of shape \(2,\)"):
        net.apply(net.init(jax.random.key(0)), jnp.ones(3))


# ----------------------------------------------------------------------------- the game

def test_modes_match_the_closed_form():
    ring = mixture_modes("ring8")
    for k in range(8):
        np.testing.assert_allclose(ring[k], [2 * math.cos(math.pi * k / 4),
                                             2 * math.sin(math.pi * k / 4)], atol=1e-15)
    grid = mixture_modes("grid16")
    assert sorted(map(tuple, grid)) == [(a, b) for a in (-3, -1, 1, 3) for b in (-3, -1, 1, 3)]
    g = gan_mixture("grid16")
    np.testing.assert_allclose(g.modes, grid)
    assert float(g.std) == pytest.approx(0.02) and g.num_players == 2


@pytest.mark.parametrize("kind", ["ring8", "grid16"])
def test_data_sampler_statistics(kind):
    game = gan_mixture(kind, dtype=jnp.float64)
    modes = mixture_modes(kind)
    x = np.asarray(game.sample_data(jax.random.key(0), 40_000))
    assert x.dtype == np.float64 and x.shape == (40_000, 2)
    nearest = np.argmin(np.linalg.norm(x[:, None] - modes[None], axis=-1), axis=1)
    resid = x - modes[nearest]
    # Each coordinate ~ N(0, 0.02^2) around its mode (modes are 2 apart: no overlap).
    np.testing.assert_allclose(resid.mean(axis=0), 0, atol=4 * 0.02 / math.sqrt(40_000))
    np.testing.assert_allclose(resid.std(axis=0), 0.02, rtol=0.02)
    # Equal weights: counts ~ Binomial(n, 1/K), within 5 standard deviations.
    k = len(modes)
    counts = np.bincount(nearest, minlength=k)
    sd = math.sqrt(40_000 * (1 / k) * (1 - 1 / k))
    assert np.all(np.abs(counts - 40_000 / k) < 5 * sd)


def test_quality_on_hand_made_samples():
    game = gan_mixture("ring8", dtype=jnp.float64)
    modes = mixture_modes("ring8")
    std = 0.02

    def q(samples, **kw):
        r = game.quality(jnp.asarray(samples), **kw)
        return int(r["modes_covered"]), float(r["high_quality"])
    on_all = np.repeat(modes, 10, axis=0)
    assert q(on_all) == (8, 1.0)
    # 2.9 std off a mode is high quality; 3.1 std is not.
    assert q(modes[:3].repeat(20, axis=0) + [2.9 * std, 0]) == (3, 1.0)
    assert q(modes[:3].repeat(20, axis=0) + [0, 3.1 * std]) == (0, 0.0)
    far = np.full((50, 2), 10.0)
    assert q(far) == (0, 0.0)
    assert q(np.concatenate([on_all, far[:30], np.zeros((50, 2))])) == (8, 0.5)
    assert q(np.full((10, 2), np.nan)) == (0, 0.0)
    # A mode needs at least 1% of the samples: 1 of 200 (0.5%) is not enough.
    lonely = np.concatenate([np.repeat(modes[:1], 199, axis=0), modes[1:2]])
    assert q(lonely) == (1, 1.0)
    assert q(lonely, min_share=0.0) == (2, 1.0)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        game.quality(jnp.ones((4, 3)))


def _tiny_game(batch):
    return gan_mixture("ring8", generator=mlp((3, 4, 2), dtype=jnp.float64),
                       discriminator=mlp((2, 5, 1), dtype=jnp.float64), latent_dim=3,
                       batch_size=batch, dtype=jnp.float64, key=jax.random.key(3))


def test_losses_match_a_numpy_transcription_of_the_non_saturating_losses():
    game = _tiny_game(6)
    params = game.init(jax.random.key(4))
    (gw1, gb1), (gw2, gb2) = [(np.asarray(w), np.asarray(b)) for w, b in params[0]]
    (dw1, db1), (dw2, db2) = [(np.asarray(w), np.asarray(b)) for w, b in params[1]]
    relu = lambda a: np.maximum(a, 0)
    gen = lambda z: relu(z @ gw1 + gb1) @ gw2 + gb2
    disc = lambda x: (relu(x @ dw1 + db1) @ dw2 + db2)[:, 0]
    sig = lambda t: 1 / (1 + np.exp(-t))
    real, noise = np.asarray(game.real), np.asarray(game.noise)
    d_real, d_fake = disc(real), disc(gen(noise))
    loss_d = -np.mean(np.log(sig(d_real))) - np.mean(np.log(1 - sig(d_fake)))
    loss_g = -np.mean(np.log(sig(d_fake)))
    np.testing.assert_allclose(game.losses(params), [loss_g, loss_d], rtol=1e-12)
    assert game.equilibrium() is None


def test_resample_changes_the_batch_but_not_its_structure():
    game = gan_mixture("grid16", batch_size=32, latent_dim=5)
    new = game.resample(jax.random.key(9))
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(game)
    for a, b in zip(jax.tree_util.tree_leaves(game), jax.tree_util.tree_leaves(new)):
        assert a.shape == b.shape and a.dtype == b.dtype
    assert game.real.shape == (32, 2) and game.noise.shape == (32, 5)
    assert game.real.dtype == jnp.float32
    assert not np.allclose(game.real, new.real) and not np.allclose(game.noise, new.noise)
    np.testing.assert_array_equal(game.modes, new.modes)
    # Same key, same batch; the game is a pytree that jit accepts.
    np.testing.assert_array_equal(jax.jit(lambda g, k: g.resample(k).real)(game, jax.random.key(9)),
                                  new.real)
    params = game.init(jax.random.key(0))
    check_params(game, params)
    assert game.generate(params, jax.random.key(1), 11).shape == (11, 2)


def test_bad_games_are_rejected_clearly():
    with pytest.raises(ValueError, match="ring8, grid16"):
        gan_mixture("ring9")
    with pytest.raises(ValueError, match="batch_size"):
        gan_mixture(batch_size=0)
    with pytest.raises(ValueError, match="std"):
        gan_mixture(std=-1.0)
    with pytest.raises(ValueError, match="generator maps"):
        gan_mixture(generator=mlp((16, 8, 3)))
    with pytest.raises(ValueError, match="discriminator maps"):
        gan_mixture(discriminator=mlp((2, 8, 2)))


# ----------------------------------------------------------------------------- training

# Every run below shares seeds, batch and sample counts, and a chunk length (60 or
# 1 steps), so each optimiser's training program compiles once for the whole file.
SHAPES = dict(seeds=4, batch_size=64, samples=500, echo=lambda *a: None)


def test_short_adam_training_moves_the_generator_onto_the_modes(tmp_path):
    # Fails when gradients have the wrong sign or players see the wrong batch:
    # then the generator never reaches the ring (share stays ~0) or blows up.
    dyn = dynamics.from_optax(optax.adam, learning_rate=3e-3, b1=0.5, b2=0.999)
    res = gan.run("ring8", {"adam": dyn}, steps=1200, chunks=20, out=tmp_path,
                  plots=False, **SHAPES)
    before = np.array(res["initial"]["high_quality"])
    row = res["optimizers"]["adam"]
    after = np.array(row["high_quality"])
    assert row["diverged_at"] == [None] * 4 and np.all(np.isfinite(row["final_loss_d"]))
    assert before.max() < 0.02                     # the initial generator sits near 0
    assert after.mean() > 0.05 and after.mean() > 10 * max(before.mean(), 0.002)
    assert max(row["modes_covered"]) >= 1
    losses = np.load(tmp_path / "samples.npz")["losses_adam"]
    # every 1200 / 20 = 60 steps, from step 0: 21 records per seed
    assert losses.shape == (4, 21, 2) and np.all(np.isfinite(losses))


def test_run_writes_results_samples_and_pngs(tmp_path):
    res = gan.run("ring8", "adam", steps=60, chunks=1, out=tmp_path, **SHAPES)
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    saved = json.loads(text)
    assert saved["options"]["steps"] == 60 and saved["game"]["num_modes"] == 8
    assert saved["complete"] is True and saved["environment"]["dtype"] in ("float32", "float64")
    # `gamedyn gan` trains ring8 at the wider std 0.05 with tanh MLPs (experiments/gan.py).
    assert saved["game"]["std"] == pytest.approx(0.05)
    assert "tanh" in saved["game"]["networks"]
    assert list(saved["optimizers"]) == ["adam"]
    row = saved["optimizers"]["adam"]
    assert len(row["modes_covered"]) == 4 and len(row["high_quality"]) == 4
    assert row["diverged_at"] == [None] * 4
    assert 0 <= row["high_quality_mean"] <= 1
    assert row == json.loads(json.dumps(res["optimizers"]["adam"]))
    assert (tmp_path / "samples_adam.png").read_bytes()[:8] == PNG
    arrays = np.load(tmp_path / "samples.npz")
    assert arrays["adam"].shape == (4, 500, 2) and arrays["real"].shape == (500, 2)
    assert arrays["losses_adam"].shape == (4, 2, 2)          # steps 0 and 60, per seed
    assert saved["optimizers"]["adam"]["hyperparameters"]["learning_rate"] == pytest.approx(1e-3)


def test_same_seed_gives_bitwise_same_results_apart_from_timings(tmp_path):
    # The GAN goes through simulate with a key: every step draws its minibatch from
    # a key split inside the scan, so a rerun is bitwise identical.
    timing = {"seconds", "elapsed_s"}

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in timing}
        return obj

    runs = []
    for k in range(2):
        gan.run("ring8", "momentum", steps=60, chunks=3, out=tmp_path / str(k), plots=False,
                **SHAPES)
        runs.append((json.loads((tmp_path / str(k) / "results.json").read_text()),
                     np.load(tmp_path / str(k) / "samples.npz")))
    assert strip(runs[0][0]) == strip(runs[1][0])
    for name in runs[0][1].files:
        np.testing.assert_array_equal(runs[0][1][name], runs[1][1][name])
    other = gan.compute("ring8", "momentum", steps=60, chunks=3, seed=1, seeds=4,
                        batch_size=64, samples=500)
    assert not np.array_equal(other["arrays"]["momentum"], runs[0][1]["momentum"])


def test_a_diverging_setting_is_reported_not_raised(tmp_path):
    # (A huge lr_scale no longer overflows: the tanh networks saturate and their gradients
    # vanish.  A momentum coefficient of 1e3 grows the buffer past float32 in ~13 steps.)
    dyn = dynamics.momentum(2e-2, 1e3)
    res = gan.run("ring8", {"momentum": dyn}, steps=20, chunks=4, out=tmp_path, plots=False,
                  **SHAPES)
    row = res["optimizers"]["momentum"]
    assert all(d is not None and 1 <= d <= 20 for d in row["diverged_at"])
    # Exact to the step (not to a chunk): a Python loop of the same steps, drawing each
    # minibatch from the key as simulate documents (split, then resample with the sub-key).
    game, params, keys, _ = gan.setup("ring8", seed=0, seeds=4,
                                      batch_size=SHAPES["batch_size"])
    for s, key in enumerate(keys):
        state, first = dyn.init(jax.tree_util.tree_map(lambda x: x[s], params)), None
        step = jax.jit(dyn.step)
        for t in range(1, 21):
            key, sub = jax.random.split(key)
            state = step(game.resample(sub), state)
            if first is None and not all(np.all(np.isfinite(x)) for x in
                                         jax.tree_util.tree_leaves(state)):
                first = t
        assert row["diverged_at"][s] == first
    assert row["high_quality"] == [0.0] * 4 and row["modes_covered"] == [0] * 4
    saved = json.loads((tmp_path / "results.json").read_text())["optimizers"]["momentum"]
    assert saved["final_loss_g"] == [None] * 4
    assert "4/4" in gan.format_table("t", res["optimizers"], 8)


def test_cli_options_and_bad_names(tmp_path, capsys):
    parser = gan.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--steps", "20", "--seeds", "4", "--batch-size", "64",
                              "--samples", "500", "--optimizers", "momentum",
                              "--out", str(tmp_path), "--no-plots"])
    assert gan.main(args) == 0
    out = capsys.readouterr().out
    assert "modes (of 8)" in out and "momentum" in out
    assert (tmp_path / "results.json").exists() and not list(tmp_path.glob("*.png"))
    defaults = parser.parse_args([])
    assert (defaults.kind, defaults.out) == ("ring8", "runs/gan")
    with pytest.raises(ValueError, match="unknown optimiser name 'rmsprop'"):
        gan.main(parser.parse_args(["--optimizers", "adam,rmsprop", "--out", str(tmp_path)]))
    with pytest.raises(ValueError, match="mixture kind"):
        gan.main(parser.parse_args(["--kind", "spiral", "--out", str(tmp_path)]))
    with pytest.raises(SystemExit):          # argparse exits 2 naming the range
        parser.parse_args(["--steps", "0", "--out", str(tmp_path)])
    assert "argument --steps: must be an integer in [1, 10000000]; got 0" in \
        capsys.readouterr().err
