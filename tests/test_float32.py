"""What users get by default: JAX's float32 (every other test module runs with x64).

The README's examples run in fresh interpreters without x64, and simulate keeps
float32 end to end (float32 parameters, complex64 buffers) while agreeing with
a float64 run to float32 accuracy.
"""

import os
import re
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


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_examples_run_in_default_float32():
    # One interpreter for all blocks (start-up costs seconds): each block runs in a
    # fresh namespace from float32, the default, even after one that turned x64 on.
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    driver = ("import sys, jax\n"
              "for i, code in enumerate(sys.argv[1:]):\n"
              "    jax.config.update('jax_enable_x64', False)\n"
              "    exec(compile(code, f'README-block-{i}', 'exec'), {})\n")
    done = subprocess.run([sys.executable, "-c", driver, *_python_blocks()], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


CASES = {
    "simgd": lambda: dynamics.simgd(0.1),
    "momentum_alternating": lambda: dynamics.momentum(0.1, -0.4, alternating=True),
    "complex_momentum": lambda: dynamics.complex_momentum(0.3, 0.8 * np.exp(0.4j)),
    "complex_adam": lambda: dynamics.complex_adam(0.01, 0.8 * np.exp(0.4j)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_simulate_stays_float32_and_matches_float64(name):
    start = (np.float64(0.7), np.float64(-0.4))
    with jax.enable_x64(False):
        game = games.dirac_gan(0.1)
        traj = dynamics.simulate(game, CASES[name](), tuple(jnp.asarray(x) for x in start),
                                 200)
        for leaf in jax.tree_util.tree_leaves(traj.final):
            assert leaf.dtype in (jnp.float32, jnp.complex64, jnp.int32), leaf.dtype
        assert traj.metrics["losses"].dtype == jnp.float32
        got = np.asarray(jnp.stack(traj.params), dtype=np.float64)
    game64 = games.dirac_gan(0.1)
    want = np.asarray(jnp.stack(dynamics.simulate(
        game64, CASES[name](), tuple(jnp.asarray(x, jnp.float64) for x in start),
        200).params))
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    assert int(traj.diverged_at) == -1
