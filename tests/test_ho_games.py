"""Tests of the digits data and the two leader/follower games built on them:
games.load_digits, games.hyperparameter_optimization, games.dataset_distillation.

Expected numbers come from NumPy transcriptions written here (softmax
cross-entropy, the regularisers, the network) or central finite differences in
float64, never from the code under test.  One small data set and one tiny
network keep the number of compiled shapes low.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games
import nets

pytest.importorskip("sklearn")      # the optional dependency (in the test extra)

N_TRAIN, N_VAL, N_TEST = 30, 20, 10
DATA = games.load_digits(n_train=N_TRAIN, n_val=N_VAL, n_test=N_TEST, dtype=jnp.float64)
NET = nets.mlp((64, 4, 10), activation="tanh", dtype=jnp.float64)
B = 6                                           # the one minibatch size
LOSSES = jax.jit(lambda game, params: game.losses(params))
XI = jax.jit(games.simultaneous_gradient)
RESAMPLE = jax.jit(lambda game, key: game.resample(key))


def _raw_digits():
    from sklearn.datasets import load_digits
    raw = load_digits()
    return np.asarray(raw.data, np.float64), np.asarray(raw.target)


# --------------------------------------------------------------------------- NumPy references


def np_logits(w, x):
    (w1, b1), (w2, b2) = [(np.asarray(a), np.asarray(b)) for a, b in w]
    return np.tanh(x @ w1 + b1) @ w2 + b2


def np_cross_entropy(z, y):
    z = np.asarray(z, np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return np.mean(lse - z[np.arange(len(y)), np.asarray(y)])


def np_ce(w, x, y):
    return np_cross_entropy(np_logits(w, np.asarray(x)), y)


def np_penalty(regularizer, lam, w):
    leaves_w = [np.asarray(a) for a in jax.tree.leaves(w)]
    if regularizer == "global":
        return 0.5 * np.exp(float(lam)) * sum(np.sum(a ** 2) for a in leaves_w)
    leaves_l = [np.asarray(a) for a in jax.tree.leaves(lam)]
    return 0.5 * sum(np.sum(np.exp(l) * a ** 2) for l, a in zip(leaves_l, leaves_w))


def _perturb(params, seed, scale=0.3):
    """params plus N(0, scale^2) noise (drawn in NumPy), so nothing sits at a special value."""
    r = np.random.default_rng(seed)
    return jax.tree.map(lambda a: jnp.asarray(np.asarray(a) + scale * r.normal(size=a.shape),
                                              a.dtype), params)


def _directional_fd(game, params, i, v, h=1e-5):
    def shifted(s):
        p = list(params)
        p[i] = jax.tree.map(lambda a, d: np.asarray(a) + s * d, params[i], v)
        return float(LOSSES(game, tuple(p))[i])
    return (shifted(h) - shifted(-h)) / (2 * h)


def _check_xi_against_fd(game, params, seed):
    """<xi_i, v> against central differences of L_i along random directions v."""
    xi = XI(game, params)
    r = np.random.default_rng(seed)
    for i in range(2):
        for _ in range(2):
            v = jax.tree.map(lambda a: r.normal(size=a.shape), params[i])
            want = _directional_fd(game, params, i, v)
            got = sum(np.vdot(np.asarray(g), d) for g, d in
                      zip(jax.tree.leaves(xi[i]), jax.tree.leaves(v)))
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def _assert_zero(tree):
    for leaf in jax.tree.leaves(tree):
        assert np.all(np.asarray(leaf) == 0.0)


# --------------------------------------------------------------------------- data


def test_default_split_sizes_dtypes_and_stratification():
    d = games.load_digits()
    assert (d.x_train.shape, d.x_val.shape, d.x_test.shape) == ((1000, 64), (400, 64),
                                                               (397, 64))
    assert d.y_train.shape == (1000,) and d.y_val.shape == (400,) and d.y_test.shape == (397,)
    assert d.x_train.dtype == jnp.float32 and d.y_train.dtype == jnp.int32
    assert d.num_classes == 10 and d.num_features == 64
    _, y_all = _raw_digits()
    share = np.bincount(y_all, minlength=10) / len(y_all)
    for y in (d.y_train, d.y_val, d.y_test):
        counts = np.bincount(np.asarray(y), minlength=10)
        assert np.all(np.abs(counts - share * len(y)) <= 2), counts


def test_splits_partition_the_data():
    x_all, y_all = _raw_digits()
    d = games.load_digits(dtype=jnp.float64)           # 1000 + 400 + 397 = 1797
    parts = []
    for name in ("train", "val", "test"):
        x, y = d.split(name)
        raw = np.asarray(x) * np.asarray(d.std) + np.asarray(d.mean)
        np.testing.assert_allclose(raw, np.round(raw), atol=1e-9)      # integer pixels
        parts.append(np.column_stack([np.round(raw), np.asarray(y)]))
    got = np.concatenate(parts)
    want = np.column_stack([x_all, y_all])
    # Every image once: the splits are disjoint and together the whole data set.
    np.testing.assert_array_equal(got[np.lexsort(got.T)], want[np.lexsort(want.T)])


def test_small_splits_are_disjoint_rows_of_the_data():
    x_all, _ = _raw_digits()
    rows = {tuple(r) for r in x_all}
    seen = []
    for name in ("train", "val", "test"):
        x, _ = DATA.split(name)
        raw = np.round(np.asarray(x) * np.asarray(DATA.std) + np.asarray(DATA.mean))
        seen += [tuple(r) for r in raw]
    assert len(seen) == N_TRAIN + N_VAL + N_TEST == len(set(seen))
    assert set(seen) <= rows


def test_standardised_with_training_statistics():
    x_all, _ = _raw_digits()
    x = np.asarray(DATA.x_train)
    raw = x * np.asarray(DATA.std) + np.asarray(DATA.mean)
    raw_std = raw.std(axis=0)
    varying = raw_std > 0
    assert 0 < varying.sum() < 64            # some corner pixels are constant
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=0)[varying], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(x[:, ~varying], 0.0)
    np.testing.assert_allclose(np.asarray(DATA.std)[~varying], 1.0)
    np.testing.assert_allclose(np.asarray(DATA.mean), raw.mean(axis=0), atol=1e-12)
    # validation and test use the training statistics, not their own
    xv = np.asarray(DATA.x_val) * np.asarray(DATA.std) + np.asarray(DATA.mean)
    np.testing.assert_allclose(xv, np.round(xv), atol=1e-9)


def test_seed_reproducibility():
    a = games.load_digits(n_train=30, n_val=20, n_test=10, seed=3)
    b = games.load_digits(n_train=30, n_val=20, n_test=10, seed=3)
    c = games.load_digits(n_train=30, n_val=20, n_test=10, seed=4)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.x_train, c.x_train)


def test_digits_is_a_pytree_with_static_num_classes():
    leaves, tree = jax.tree.flatten(DATA)
    assert len(leaves) == 8 and all(isinstance(x, jax.Array) for x in leaves)
    assert jax.tree.unflatten(tree, leaves).num_classes == 10


def test_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)   # import fails
    with pytest.raises(ImportError, match=r"pip install 'gamedyn\[data\]'"):
        games.load_digits()


def test_importing_games_does_not_import_sklearn():
    import subprocess
    code = "import sys, games; assert 'sklearn' not in sys.modules, 'games imported sklearn'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_train=0), ValueError, "n_train"),
    (dict(n_val=-3), ValueError, "n_val"),
    (dict(n_train=1.5), TypeError, "n_train"),
    (dict(n_test=True), TypeError, "n_test"),
    (dict(n_train=1000, n_val=400, n_test=398), ValueError, "1797"),
    (dict(n_train=1500, n_val=297), ValueError, "no test images"),
    (dict(dtype=jnp.int32), TypeError, "floating"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_load_digits_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        games.load_digits(**kwargs)


# --------------------------------------------------------------------------- hyperparameter game


@pytest.mark.parametrize("regularizer", ["per_weight", "global"])
def test_ho_losses_match_numpy(regularizer):
    game = games.hyperparameter_optimization(NET, DATA, regularizer=regularizer)
    assert game.num_players == 2 and not hasattr(game, "resample")
    lam, w = game.init(jax.random.key(0))
    if regularizer == "global":
        assert lam.shape == () and lam.dtype == jnp.float64
    else:
        assert jax.tree.structure(lam) == jax.tree.structure(w)
        assert all(a.shape == b.shape for a, b in zip(jax.tree.leaves(lam), jax.tree.leaves(w)))
    for x in jax.tree.leaves(lam):
        np.testing.assert_allclose(x, np.log(1e-3))
    params = _perturb((lam, w), 1)
    lam, w = params
    val = np_ce(w, DATA.x_val, DATA.y_val)
    train = np_ce(w, DATA.x_train, DATA.y_train) + np_penalty(regularizer, lam, w)
    np.testing.assert_allclose(LOSSES(game, params), [val, train], rtol=1e-12)
    penalty = jax.jit(lambda g, l, w: g.penalty(l, w))(game, lam, w)
    np.testing.assert_allclose(penalty, np_penalty(regularizer, lam, w), rtol=1e-12)


@pytest.mark.parametrize("regularizer", ["per_weight", "global"])
def test_ho_gradients_match_finite_differences_and_leader_gradient_is_zero(regularizer):
    game = games.hyperparameter_optimization(NET, DATA, regularizer=regularizer)
    params = _perturb(game.init(jax.random.key(2)), 3)
    _check_xi_against_fd(game, params, seed=5)
    _assert_zero(XI(game, params)[0])


def test_ho_minibatch_losses_use_the_batches():
    game = games.hyperparameter_optimization(NET, DATA, batch_size=B, key=jax.random.key(9))
    assert isinstance(game, games.MinibatchHyperparameterOptimization)
    assert game.x_batch.shape == (B, 64) and game.x_val_batch.shape == (B, 64)
    lam, w = params = _perturb(game.init(jax.random.key(0)), 1)
    val = np_ce(w, game.x_val_batch, game.y_val_batch)
    train = np_ce(w, game.x_batch, game.y_batch) + np_penalty("per_weight", lam, w)
    np.testing.assert_allclose(LOSSES(game, params), [val, train], rtol=1e-12)
    _check_xi_against_fd(game, params, seed=11)
    _assert_zero(XI(game, params)[0])


def _rows_of(batch_x, batch_y, x, y):
    """Each row of the batch is a row of (x, y), with its label."""
    full = {tuple(np.append(r, l)) for r, l in zip(np.asarray(x), np.asarray(y))}
    got = [tuple(np.append(r, l)) for r, l in zip(np.asarray(batch_x), np.asarray(batch_y))]
    return all(g in full for g in got), len(set(got)) == len(got)


def test_ho_resample_draws_fresh_batches_of_the_same_shape():
    game = games.hyperparameter_optimization(NET, DATA, batch_size=B)
    new = RESAMPLE(game, jax.random.key(5))
    assert type(new) is type(game)
    assert jax.tree.structure(new) == jax.tree.structure(game)
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(game)):
        assert a.shape == b.shape and a.dtype == b.dtype
    assert not np.array_equal(new.x_batch, game.x_batch)
    assert not np.array_equal(new.x_val_batch, game.x_val_batch)
    assert _rows_of(new.x_batch, new.y_batch, DATA.x_train, DATA.y_train) == (True, True)
    assert _rows_of(new.x_val_batch, new.y_val_batch, DATA.x_val, DATA.y_val) == (True, True)
    np.testing.assert_array_equal(new.data.x_train, DATA.x_train)
    same = RESAMPLE(game, jax.random.key(5))
    np.testing.assert_array_equal(same.x_batch, new.x_batch)


def test_ho_simulate_stochastic_and_deterministic():
    stochastic = games.hyperparameter_optimization(NET, DATA, regularizer="global",
                                                   batch_size=B)
    params = stochastic.init(jax.random.key(0))
    dyn = dynamics.simgd(0.1)
    run = lambda k: dynamics.simulate(stochastic, dyn, params, 6, key=jax.random.key(k),
                                      metrics=())
    a, b, c = run(1), run(1), run(2)
    assert int(a.diverged_at) == -1
    np.testing.assert_array_equal(a.params[1][0][0], b.params[1][0][0])
    assert not np.array_equal(a.params[1][0][0][-1], c.params[1][0][0][-1])
    # simgd never moves lambda (dL_0/dlambda = 0), whatever the batches
    np.testing.assert_array_equal(a.params[0], np.full(7, np.log(1e-3)))
    with pytest.raises(ValueError, match="stochastic"):
        dynamics.simulate(stochastic, dyn, params, 6, metrics=())
    deterministic = games.hyperparameter_optimization(NET, DATA, regularizer="global")
    with pytest.raises(ValueError, match="key="):
        dynamics.simulate(deterministic, dyn, params, 6, key=jax.random.key(0), metrics=())


def test_ho_stackelberg_follows_the_hypergradient():
    # dL_0/dlambda = 0, yet stackelberg moves lambda by -lr times the slope of the
    # validation loss at the follower's best response, dL_0(lambda, w*(lambda))/dlambda.
    game = games.hyperparameter_optimization(NET, DATA, regularizer="global")
    _, w0 = game.init(jax.random.key(0))

    @jax.jit
    def best_response(lam, w):
        # plain gradient descent on L_1(lam, .), written here; with a decay of
        # exp(-2) it converges to a gradient norm ~1e-14 in 2000 steps
        step = jax.grad(lambda w_: game.losses((lam, w_))[1])
        return jax.lax.fori_loop(0, 2000, lambda _, w_: jax.tree.map(
            lambda a, g: a - 0.3 * g, w_, step(w_)), w)

    lam0 = -2.0
    w_star = best_response(jnp.asarray(lam0), w0)

    def val_at_best_response(lam):
        lam = jnp.asarray(lam)
        return float(LOSSES(game, (lam, best_response(lam, w_star)))[0])

    h = 1e-4
    slope = (val_at_best_response(lam0 + h) - val_at_best_response(lam0 - h)) / (2 * h)
    assert abs(slope) > 1e-3
    lr = 0.5
    dyn = dynamics.stackelberg(lr, follower=dynamics.simgd(0.3), inner_steps=5,
                               method=dynamics.Exact())
    traj = dynamics.simulate(game, dyn, (jnp.asarray(lam0), w_star), 1, metrics=())
    np.testing.assert_allclose(-(float(traj.params[0][-1]) - lam0) / lr, slope, rtol=1e-5)


def test_ho_evaluate_and_accuracy_match_numpy():
    game = games.hyperparameter_optimization(NET, DATA)
    params = _perturb(game.init(jax.random.key(0)), 1, scale=1.0)
    out = game.evaluate(params)
    assert set(out) == {f"{s}_{m}" for s in ("train", "val", "test")
                        for m in ("loss", "accuracy")}
    for s in ("train", "val", "test"):
        x, y = DATA.split(s)
        z = np_logits(params[1], np.asarray(x))
        np.testing.assert_allclose(out[f"{s}_loss"], np_cross_entropy(z, y), rtol=1e-12)
        acc = np.mean(z.argmax(axis=1) == np.asarray(y))
        np.testing.assert_allclose(out[f"{s}_accuracy"], acc)
        np.testing.assert_allclose(game.accuracy(params, s), acc)


class _Unhashable:
    __hash__ = None

    def __init__(self, net):
        self.init, self.apply = net


@pytest.mark.parametrize("factory", ["hyperparameter_optimization", "dataset_distillation"])
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(model=nets.mlp((64, 5), dtype=jnp.float64)), ValueError, "10 logits"),
    (dict(model=nets.mlp((10, 10), dtype=jnp.float64)), ValueError, r"\(64,\)"),
    (dict(model=nets.mlp((64, 10, 1), dtype=jnp.float64)), ValueError, "10 logits"),
    (dict(model=(1, 2)), TypeError, "init"),
    (dict(model=_Unhashable(NET)), TypeError, "hashable"),
    (dict(data={"x_train": np.zeros((3, 64))}), TypeError, "load_digits"),
    (dict(batch_size=0), ValueError, "positive int"),
    (dict(batch_size=2.5), ValueError, "positive int"),
    (dict(batch_size=True), ValueError, "positive int"),
    (dict(batch_size=31), ValueError, "larger than"),
    (dict(key=jax.random.key(0)), ValueError, "batch_size"),
])
def test_bad_input(factory, kwargs, error, match):
    kwargs = {"model": NET, "data": DATA, **kwargs}
    with pytest.raises(error, match=match):
        getattr(games, factory)(kwargs.pop("model"), kwargs.pop("data"), **kwargs)


def test_ho_bad_input():
    with pytest.raises(ValueError, match="'per_weight', 'global'"):
        games.hyperparameter_optimization(NET, DATA, regularizer="l1")
    with pytest.raises(ValueError, match="validation"):       # val has 20 < 25 examples
        games.hyperparameter_optimization(NET, DATA, batch_size=25)
    game = games.hyperparameter_optimization(NET, DATA)
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        game.accuracy(game.init(jax.random.key(0)), "validation")


# --------------------------------------------------------------------------- dataset distillation


def test_distillation_labels_and_init():
    game = games.dataset_distillation(NET, DATA, images_per_class=3)
    assert game.num_players == 2 and not hasattr(game, "resample")
    np.testing.assert_array_equal(game.labels, np.tile(np.arange(10), 3))
    images, w = game.init(jax.random.key(0))
    assert images.shape == (30, 64) and images.dtype == jnp.float64
    assert abs(float(images.mean())) < 0.15 and abs(float(images.std()) - 1) < 0.1
    assert jax.tree.structure(w) == jax.tree.structure(NET.init(jax.random.key(0)))


def test_distillation_losses_match_numpy():
    game = games.dataset_distillation(NET, DATA, weight_decay=0.05)
    params = _perturb(game.init(jax.random.key(0)), 1)
    images, w = params
    real = np_ce(w, DATA.x_train, DATA.y_train)
    decay = 0.5 * 0.05 * sum(np.sum(np.asarray(a) ** 2) for a in jax.tree.leaves(w))
    synthetic = np_ce(w, images, np.arange(10)) + decay
    np.testing.assert_allclose(LOSSES(game, params), [real, synthetic], rtol=1e-12)


def test_distillation_gradients_and_zero_leader_gradient():
    game = games.dataset_distillation(NET, DATA, weight_decay=0.01)
    params = _perturb(game.init(jax.random.key(2)), 3)
    _check_xi_against_fd(game, params, seed=7)
    _assert_zero(XI(game, params)[0])


def test_distillation_minibatch_resample_and_simulate():
    game = games.dataset_distillation(NET, DATA, batch_size=B, key=jax.random.key(1))
    assert isinstance(game, games.MinibatchDatasetDistillation)
    images, w = params = _perturb(game.init(jax.random.key(0)), 1)
    np.testing.assert_allclose(LOSSES(game, params)[0], np_ce(w, game.x_batch, game.y_batch),
                               rtol=1e-12)
    new = RESAMPLE(game, jax.random.key(2))
    assert new.x_batch.shape == (B, 64) and new.y_batch.dtype == jnp.int32
    assert not np.array_equal(new.x_batch, game.x_batch)
    assert _rows_of(new.x_batch, new.y_batch, DATA.x_train, DATA.y_train) == (True, True)
    traj = dynamics.simulate(game, dynamics.simgd(0.1), params, 4, key=jax.random.key(3),
                             metrics=())
    assert int(traj.diverged_at) == -1
    np.testing.assert_array_equal(traj.params[0][-1], images)      # simgd: images stay
    assert not np.array_equal(traj.params[1][0][0][-1], w[0][0])


def test_distillation_bad_input():
    with pytest.raises(ValueError, match="images_per_class"):
        games.dataset_distillation(NET, DATA, images_per_class=0)
    with pytest.raises(ValueError, match="non-negative"):
        games.dataset_distillation(NET, DATA, weight_decay=-1.0)
    with pytest.raises(TypeError, match="weight_decay"):
        games.dataset_distillation(NET, DATA, weight_decay="big")
