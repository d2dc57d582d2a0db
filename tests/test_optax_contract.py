"""optax's contract for optimisers, checked on every registered optax transformation.

In the style of optax's own tests (optax/_src/alias_test.py, sharding_test.py,
float64_test.py, contrib/_common_test.py, ...), for every entry of
``tests/_registry.py``'s ``OPTAX_TRANSFORMS``: jit equals eager; schedules as
learning rate and through ``optax.inject_hyperparams`` (passing through 0);
float dtypes kept; sharding kept (4 host devices, in a subprocess); composition
with ``optax.chain``, ``optax.MultiSteps``, ``optax.masked`` and
``optax.apply_if_finite``; complex parameters; extra keyword arguments; Python
scalars.

Every expected number comes from ``REFERENCES``: NumPy loops written here from
the update equations (one per factory; a new factory without one fails
``test_every_factory_has_a_reference``), from ``optax.sgd`` / ``optax.adam`` for
real beta, or from closed forms; never from the code under test.
"""

import contextlib
import inspect
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynamics
from _registry import OPTAX_TRANSFORMS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = list(OPTAX_TRANSFORMS)
T = 6                                   # updates per run


# ---- the registry entries' hyperparameters ----

@contextlib.contextmanager
def _recording(factory_name, calls):
    """Make ``dynamics.<factory_name>`` record its arguments while the registry's
    builder runs (the builders look the factory up on the module when called)."""
    factory = getattr(dynamics, factory_name)

    def record(*args, **kwargs):
        bound = inspect.signature(factory).bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return factory(*args, **kwargs)
    setattr(dynamics, factory_name, record)
    try:
        yield
    finally:
        setattr(dynamics, factory_name, factory)


def _entry(name):
    """(factory, its keyword arguments with defaults) for a registry entry."""
    factory_name, build = OPTAX_TRANSFORMS[name]
    calls = []
    with _recording(factory_name, calls):
        build()
    assert len(calls) == 1, f"{name}: the builder should call {factory_name} once"
    return getattr(dynamics, factory_name), calls[0]


# ---- independent references: NumPy, float64 / complex128 ----

def _lr(kw, t):
    """The learning rate at update t; optax evaluates schedules at an int32 count."""
    lr = kw["learning_rate"]
    return np.asarray(lr(np.int32(t))).item() if callable(lr) else lr


def _pair(g):
    """optax's convention: a complex gradient dL/dx + i dL/dy is the real pair."""
    return np.stack([g.real, g.imag]) if np.iscomplexobj(g) else g


def _unpair(u, g):
    return u[0] + 1j * u[1] if np.iscomplexobj(g) else u


def _np_leaves(tree):
    return [np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float64))
            for x in jax.tree_util.tree_leaves(tree)]


def np_complex_momentum(kw, grads_seq):
    """mu <- beta mu - g;  update = Re(lr mu), per real coordinate."""
    beta, mu, out = kw["beta"], None, []
    for t, grads in enumerate(grads_seq):
        gs = _np_leaves(grads)
        pairs = [_pair(g) for g in gs]
        mu = mu or [np.zeros(p.shape, complex) for p in pairs]
        mu = [beta * m - p for m, p in zip(mu, pairs)]
        out.append([_unpair((_lr(kw, t) * m).real, g) for m, g in zip(mu, gs)])
    return out


def np_complex_adam(kw, grads_seq):
    """mu <- b1 mu - (1 - b1) g (per real coordinate), v <- b2 v + (1 - b2) |g|^2,
    update = lr Re(mu / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""
    b1, b2, eps = kw["beta1"], kw["beta2"], kw["eps"]
    mu = v = None
    out = []
    for t, grads in enumerate(grads_seq):
        gs = _np_leaves(grads)
        pairs = [_pair(g) for g in gs]
        mu = mu or [np.zeros(p.shape, complex) for p in pairs]
        v = v or [np.zeros(g.shape) for g in gs]
        mu = [b1 * m - (1 - b1) * p for m, p in zip(mu, pairs)]
        v = [b2 * s + (1 - b2) * np.abs(g) ** 2 for s, g in zip(v, gs)]
        n = t + 1
        out.append([_unpair(_lr(kw, t) * (m / (1 - b1**n)).real
                            / (np.sqrt(s / (1 - b2**n)) + eps), g)
                    for m, s, g in zip(mu, v, gs)])
    return out


REFERENCES = {"optax_complex_momentum": np_complex_momentum,
              "optax_complex_adam": np_complex_adam}


def _reference(name, grads_seq, **override):
    factory, kw = _entry(name)
    return REFERENCES[factory.__name__](dict(kw, **override), grads_seq)


# ---- helpers ----

# Few distinct shapes (eager updates compile op by op, per shape and dtype): (3,) and ().
PARAMS = {"w": jnp.array([0.5, -1.0, 2.0]), "s": jnp.asarray(0.3)}


def _grads_seq(params, steps=T, seed=0):
    rng = np.random.default_rng(seed)

    def draw(p):
        g = rng.normal(size=p.shape)
        if jnp.iscomplexobj(p):
            g = g + 1j * rng.normal(size=p.shape)
        return jnp.asarray(g, p.dtype)
    return [jax.tree_util.tree_map(draw, params) for _ in range(steps)]


def _run(opt, params, grads_seq, update=None, **extra):
    update = update or opt.update
    state, out = opt.init(params), []
    for g in grads_seq:
        u, state = update(g, state, params, **extra)
        out.append(u)
    return out, state


def _assert_updates(got, want, rtol=1e-10, atol=1e-13):
    assert len(got) == len(want)
    for t, (g, w) in enumerate(zip(got, want)):
        g = jax.tree_util.tree_leaves(g)
        assert len(g) == len(w)
        for a, b in zip(g, w):
            np.testing.assert_allclose(np.asarray(a), b, rtol=rtol, atol=atol,
                                       err_msg=f"update {t}")


def _assert_trees_equal_types_close(a, b, rtol=1e-12, atol=1e-14):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def _warmup_decay(peak):
    """0 -> peak over 2 updates, peak -> 0 over 2 more, then 0."""
    return optax.join_schedules([optax.linear_schedule(0.0, peak, 2),
                                 optax.linear_schedule(peak, 0.0, 2)], [2])


# ---- the checks ----

def test_every_factory_has_a_reference():
    for name in NAMES:
        factory, _ = _entry(name)
        assert factory.__name__ in REFERENCES, f"add a NumPy reference for {factory.__name__}"


@pytest.mark.parametrize("name", NAMES)
def test_matches_reference_and_jit_equals_eager(name):
    opt = OPTAX_TRANSFORMS[name][1]()
    grads = _grads_seq(PARAMS)
    eager, s_eager = _run(opt, PARAMS, grads)
    _assert_updates(eager, _reference(name, grads))
    update = jax.jit(opt.update)
    jitted, s_jit = _run(opt, PARAMS, grads, update=update)
    for a, b in zip(eager, jitted):
        _assert_trees_equal_types_close(a, b)
    _assert_trees_equal_types_close(s_eager, s_jit)
    assert update._cache_size() == 1            # new values: no recompilation
    assert jax.tree_util.tree_structure(jax.jit(opt.init)(PARAMS)) == \
        jax.tree_util.tree_structure(s_eager)


@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_is_annotated_as_a_schedule(name):
    # optax's own tests (contrib/_common_test.py) use this annotation to find
    # optimisers that take a schedule.
    factory, _ = _entry(name)
    ann = inspect.signature(factory).parameters["learning_rate"].annotation
    assert ann in (optax.ScalarOrSchedule, optax.Schedule)


@pytest.mark.parametrize("name", NAMES)
def test_schedule_as_learning_rate(name):
    factory, kw = _entry(name)
    sched = _warmup_decay(kw["learning_rate"])
    opt = factory(**dict(kw, learning_rate=sched))
    grads = _grads_seq(PARAMS)
    want = _reference(name, grads, learning_rate=sched)
    eager, _ = _run(opt, PARAMS, grads)
    jitted, _ = _run(opt, PARAMS, grads, update=jax.jit(opt.update))
    _assert_updates(eager, want)
    _assert_updates(jitted, want)
    # zero learning rate at the first update and from the fourth on: zero updates
    for t in (0, 4, 5):
        assert all(not np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(eager[t]))


@pytest.mark.parametrize("name", NAMES)
def test_inject_hyperparams_schedule_through_zero(name):
    factory, kw = _entry(name)
    sched = _warmup_decay(kw["learning_rate"])
    opt = optax.inject_hyperparams(factory)(**dict(kw, learning_rate=sched))
    grads = _grads_seq(PARAMS)
    want = _reference(name, grads, learning_rate=sched)
    eager, s_eager = _run(opt, PARAMS, grads)
    jitted, s_jit = _run(opt, PARAMS, grads, update=jax.jit(opt.update))
    _assert_updates(eager, want)
    for a, b in zip(eager, jitted):
        _assert_trees_equal_types_close(a, b)
    _assert_trees_equal_types_close(s_eager.inner_state, s_jit.inner_state)
    assert float(s_eager.hyperparams["learning_rate"]) == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_checks(name):
    factory, kw = _entry(name)
    factory(**dict(kw, learning_rate=0.0))                      # zero: accepted
    factory(**dict(kw, learning_rate=jnp.asarray(0.0)))
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="learning_rate"):
            factory(**dict(kw, learning_rate=bad))


DTYPES = ("bfloat16", "float16", "float32", "float64")


@pytest.mark.parametrize("name", NAMES)
def test_dtypes_kept(name):
    # One tree with every float dtype (one compilation per entry); float64 also 0-d.
    params = {d: jnp.asarray(np.full(3, 0.5), d) for d in DTYPES}
    params["float64_0d"] = jnp.asarray(0.5, jnp.float64)
    complex_of = {"float64": jnp.complex128}                # else complex64
    opt = OPTAX_TRANSFORMS[name][1]()
    state = jax.jit(opt.init)(params)
    for field in state._fields:
        buffers = getattr(state, field)
        if jax.tree_util.tree_structure(buffers) != jax.tree_util.tree_structure(params):
            assert jnp.ndim(buffers) == 0 and buffers.dtype == jnp.int32   # a count
            continue
        for key, b in buffers.items():
            p = params[key]
            assert b.shape == p.shape, (field, key, b.shape)
            if jnp.iscomplexobj(b):              # float64 -> complex128, 0-d included
                assert b.dtype == complex_of.get(p.dtype.name, jnp.complex64), (field, key)
            else:
                assert b.dtype == p.dtype, (field, key, b.dtype)
    grads = jax.tree_util.tree_map(lambda p: (2 * p).astype(p.dtype), params)
    updates, new_state = jax.jit(opt.update)(grads, state, params)
    assert jax.tree_util.tree_map(lambda u: u.dtype, updates) == \
        jax.tree_util.tree_map(lambda p: p.dtype, params)
    assert all(bool(jnp.all(jnp.isfinite(u)) & jnp.all(u != 0))
               for u in jax.tree_util.tree_leaves(updates))
    assert jax.tree_util.tree_map(jax.typeof, new_state) == \
        jax.tree_util.tree_map(jax.typeof, state)
    new_params = optax.apply_updates(params, updates)
    assert jax.tree_util.tree_map(lambda p: p.dtype, new_params) == \
        jax.tree_util.tree_map(lambda p: p.dtype, params)


@pytest.mark.parametrize("name", NAMES)
def test_chain(name):
    opt = OPTAX_TRANSFORMS[name][1]()
    grads = _grads_seq(PARAMS)
    chained = optax.chain(optax.clip_by_global_norm(1e6), opt, optax.scale(2.0))
    got, _ = _run(chained, PARAMS, grads, update=jax.jit(chained.update))
    want = [[2 * u for u in step] for step in _reference(name, grads)]
    _assert_updates(got, want)


@pytest.mark.parametrize("name", NAMES)
def test_multi_steps(name):
    k = 3
    # (MultiSteps accumulates in float32 unless told otherwise)
    opt = optax.MultiSteps(OPTAX_TRANSFORMS[name][1](), every_k_schedule=k,
                           accumulator_dtype=jnp.float64)
    grads = _grads_seq(PARAMS, steps=2 * k)
    got, _ = _run(opt, PARAMS, grads, update=jax.jit(opt.update))
    means = [jax.tree_util.tree_map(lambda *g: sum(g) / k, *grads[i:i + k])
             for i in range(0, 2 * k, k)]
    want = _reference(name, means)
    for t, u in enumerate(got):
        if t % k < k - 1:
            assert all(not np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(u))
        else:
            _assert_updates([u], [want[t // k]])


@pytest.mark.parametrize("name", NAMES)
def test_masked(name):
    mask = {"w": True, "s": False}
    opt = optax.masked(OPTAX_TRANSFORMS[name][1](), mask)
    grads = _grads_seq(PARAMS)
    got, state = _run(opt, PARAMS, grads, update=jax.jit(opt.update))
    want = _reference(name, [g["w"] for g in grads])
    _assert_updates([u["w"] for u in got], want)
    for u, g in zip(got, grads):                      # unmasked: passed through
        np.testing.assert_array_equal(u["s"], g["s"])
    # optax.tree.map_params reaches the buffers through the mask
    mapped = optax.tree.map_params(opt, lambda v: v, state)
    assert jax.tree_util.tree_structure(mapped) == jax.tree_util.tree_structure(state)


@pytest.mark.parametrize("name", NAMES)
def test_apply_if_finite(name):
    opt = optax.apply_if_finite(OPTAX_TRANSFORMS[name][1](), max_consecutive_errors=2)
    grads = _grads_seq(PARAMS, steps=3)
    nan = jax.tree_util.tree_map(lambda g: jnp.full_like(g, jnp.nan), grads[0])
    got, state = _run(opt, PARAMS, [grads[0], nan, grads[1], grads[2]],
                      update=jax.jit(opt.update))
    assert all(not np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(got[1]))
    assert int(state.total_notfinite) == 1
    _assert_updates([got[0], got[2], got[3]], _reference(name, grads))


@pytest.mark.parametrize("name", NAMES)
def test_complex_parameters(name):
    # optax's convention: z = x + iy is the pair (x, y) and update() gets
    # conj(jax.grad) = dL/dx + i dL/dy.  Reference: the NumPy loop on the pairs.
    params = {"z": jnp.array([1.0 + 2.0j, -0.5j, 3.0]), "x": jnp.array([0.5, -1.0, 0.0])}
    grads = _grads_seq(params)
    want = _reference(name, grads)
    opt = OPTAX_TRANSFORMS[name][1]()
    got, state = _run(opt, params, grads, update=jax.jit(opt.update))
    _assert_updates(got, want)
    for u in got:
        assert u["z"].dtype == jnp.complex128 and u["x"].dtype == jnp.float64
    # inject_hyperparams casts float hyperparameters to the complex parameters' dtype
    factory, kw = _entry(name)
    injected = optax.inject_hyperparams(factory)(**kw)
    _assert_updates(_run(injected, params, grads)[0], want)
    _assert_updates(_run(injected, params, grads, update=jax.jit(injected.update))[0], want)
    state32 = opt.init({"z": jnp.zeros(3, jnp.complex64)})
    assert all(x.dtype in (jnp.complex64, jnp.float32, jnp.int32)
               for x in jax.tree_util.tree_leaves(state32))


@pytest.mark.parametrize("name", NAMES)
def test_complex_parameters_from_jax_grad(name):
    # A real loss of z, with jax.grad's output conjugated as optax's tests do,
    # against the same loss of the real pair (x, y) run through the NumPy loop.
    target = jnp.array([1.0 - 1.0j, 2.0 + 0.5j, -0.5j])
    weight = jnp.array([1.0, 3.0, 0.5])

    def loss(z):
        return jnp.sum(jnp.abs(z - target) ** 2 * weight)

    opt = OPTAX_TRANSFORMS[name][1]()

    @jax.jit
    def step(z, state):
        g = jnp.conj(jax.grad(loss)(z))
        u, state = opt.update(g, state, z)
        return optax.apply_updates(z, u), state, g

    z = jnp.array([0.0j, 1.0 + 1.0j, -2.0])
    state, zs, gs = opt.init(z), [z], []
    for _ in range(T):
        z, state, g = step(z, state)
        gs.append(g)
        zs.append(z)
    # the gradient of the pair, by hand: dL/dx + i dL/dy = 2 w (z - target)
    for zt, g in zip(zs, gs):
        np.testing.assert_allclose(g, 2 * weight * (np.asarray(zt) - target),
                                   rtol=1e-12)
    want = _reference(name, gs)
    np.testing.assert_allclose(np.asarray(zs[-1]),
                               np.asarray(zs[0]) + sum(w[0] for w in want), rtol=1e-10)


def test_complex_momentum_on_complex_params_is_momentum_on_the_pair():
    # Each of x and y has its own complex buffer: z equals the pair run as reals.
    beta = 0.8 * np.exp(0.3j)
    opt = dynamics.optax_complex_momentum(0.1, beta)
    zg = _grads_seq({"z": jnp.zeros(3, jnp.complex128)})
    got, _ = _run(opt, {"z": jnp.zeros(3, jnp.complex128)}, zg)
    pair, _ = _run(opt, {"x": jnp.zeros(3), "y": jnp.zeros(3)},
                   [{"x": g["z"].real, "y": g["z"].imag} for g in zg])
    for a, b in zip(got, pair):
        np.testing.assert_allclose(a["z"], b["x"] + 1j * b["y"], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.complex128])
@pytest.mark.parametrize("ours, reference", [
    (lambda: dynamics.optax_complex_momentum(0.1, 0.9), lambda: optax.sgd(0.1, momentum=0.9)),
    (lambda: dynamics.optax_complex_adam(0.05, 0.9), lambda: optax.adam(0.05, b1=0.9)),
], ids=["momentum_is_sgd", "adam_is_adam"])
def test_real_beta_is_the_optax_optimiser(ours, reference, dtype):
    params = {"a": jnp.zeros(3, dtype), "b": jnp.zeros((), dtype)}
    grads = _grads_seq(params)
    opt, ref = ours(), reference()
    got, _ = _run(opt, params, grads, update=jax.jit(opt.update))
    want, _ = _run(ref, params, grads, update=jax.jit(ref.update))
    for a, b in zip(got, want):
        _assert_trees_equal_types_close(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_extra_args_accepted(name):
    opt = OPTAX_TRANSFORMS[name][1]()
    grads = _grads_seq(PARAMS, steps=2)
    plain, _ = _run(opt, PARAMS, grads)
    extra, _ = _run(opt, PARAMS, grads, unexpected_extra_arg=1, value=jnp.asarray(2.0))
    jitted, _ = _run(opt, PARAMS, grads, update=jax.jit(opt.update), value=jnp.asarray(2.0))
    for a, b, c in zip(plain, extra, jitted):
        _assert_trees_equal_types_close(a, b)
        _assert_trees_equal_types_close(a, c)

    # in a chain with a transformation that needs a keyword-only argument
    def update_fn(updates, state, params=None, *, loss, **extra_args):
        assert loss == 1
        return updates, state
    chained = optax.chain(opt, optax.GradientTransformationExtraArgs(lambda p: (), update_fn))
    state = chained.init(PARAMS)
    chained.update(grads[0], state, PARAMS, loss=1, ignored_kwarg="hi")


@pytest.mark.parametrize("name", NAMES)
def test_python_scalar_params(name):
    opt = OPTAX_TRANSFORMS[name][1]()
    params = {"a": 1.0, "b": [2.0, -3.0]}
    grads = [{"a": 0.5, "b": [-1.0, 2.0]}, {"a": -0.25, "b": [0.5, 1.5]}]
    got, state = _run(opt, params, grads)
    _assert_updates(got, _reference(name, grads))
    assert optax.apply_updates(params, got[0])["a"].dtype == jnp.float64
    u, _ = opt.update(0.5, opt.init(1.0))                     # a bare scalar
    np.testing.assert_allclose(u, _reference(name, [0.5])[0][0], rtol=1e-12)
    abstract = opt.init(jax.ShapeDtypeStruct((3,), jnp.float32))
    assert all(x.shape in ((), (3,)) for x in jax.tree_util.tree_leaves(abstract))


def test_mismatched_gradient_is_rejected():
    opt = dynamics.optax_complex_momentum(0.1, 0.9)
    state = opt.init(jnp.zeros(3, jnp.complex128))
    with pytest.raises(ValueError, match="complex for complex parameters"):
        opt.update(jnp.zeros(3), state)


_SHARD_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.sharding import AxisType, NamedSharding, PartitionSpec as P
    sys.path.insert(0, sys.argv[1])
    from _registry import OPTAX_TRANSFORMS

    assert jax.device_count() == 4, jax.devices()
    mesh = jax.make_mesh((4,), ("x",), axis_types=(AxisType.Explicit,))
    out = {}
    with jax.set_mesh(mesh):
        sh = NamedSharding(mesh, P(None, "x"))
        params = {"f32": jnp.ones((2, 8), jnp.float32, out_sharding=sh),
                  "c64": jnp.ones((2, 8), jnp.complex64, out_sharding=sh),
                  "scalar": jnp.asarray(1.0, jnp.float64)}
        types = lambda t: str(jax.tree.map(jax.typeof, t))

        def want_spec(b, p):
            # a complex leaf's first moment stacks the x and y buffers along a new
            # leading axis; every other buffer has the parameter's shape
            spec = p.sharding.spec
            if b.shape == (2, *p.shape) and jnp.iscomplexobj(p):
                return P(None, *spec)
            assert b.shape == p.shape, (b.shape, p.shape)
            return spec

        factories = {}                       # one entry per factory (compile time)
        for name, (factory, build) in OPTAX_TRANSFORMS.items():
            factories.setdefault(factory, (name, build))
        for name, build in factories.values():
            opt = build()
            s0 = opt.init(params)
            u1, s1 = opt.update(params, s0, params)
            u2, s2 = jax.jit(opt.update)(params, s0, params)
            buffers = [f for f in s0._fields
                       if jax.tree.structure(getattr(s0, f)) == jax.tree.structure(params)]
            wrong = [f"{f}/{k}: {b.sharding.spec} != {want_spec(b, p)}"
                     for s in (s0, s1, s2) for f in buffers for k, p in params.items()
                     for b in [getattr(s, f)[k]] if b.sharding.spec != want_spec(b, p)]
            out[name] = dict(init=types(s0), update=types(s1), jit_update=types(s2),
                             jit_init=types(jax.jit(opt.init)(params)),
                             updates=types(u1), jit_updates=types(u2), params=types(params),
                             buffers=buffers, wrong_specs=wrong)
    print(json.dumps(out))
""")


SHARDING_TEST = "test_sharding_kept_with_four_devices"


@pytest.fixture(scope="module", autouse=True)
def _sharding_subprocess(request, tmp_path_factory):
    """Start the 4-device check (a subprocess, so the rest of the suite keeps one
    device) with the module's first test, to run alongside the others; the
    sharding test, last in the module, waits for it."""
    if not any(item.name == SHARDING_TEST and getattr(item, "module", None) is request.module
               for item in request.session.items):
        yield None
        return
    script = tmp_path_factory.mktemp("sharding") / "shard.py"
    script.write_text(_SHARD_SCRIPT)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    proc = subprocess.Popen([sys.executable, str(script), os.path.dirname(__file__)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_sharding_kept_with_four_devices(_sharding_subprocess):
    stdout, stderr = _sharding_subprocess.communicate(timeout=300)
    assert _sharding_subprocess.returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    assert {OPTAX_TRANSFORMS[n][0] for n in out} == {f for f, _ in OPTAX_TRANSFORMS.values()}
    for name, r in out.items():
        assert r["init"] == r["update"] == r["jit_update"] == r["jit_init"], (name, r)
        assert r["updates"] == r["jit_updates"] == r["params"], (name, r)
        assert r["buffers"] and not r["wrong_specs"], (name, r)
