"""`gamedyn rates` and `gamedyn adversarial`: numbers against closed forms."""

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games
from _reference import augmented_simultaneous
from experiments import adversarial, rates
from experiments.cli import main


def test_steps_from_radius():
    s = rates.steps_from_radius(np.array([0.5, 0.9, 1.0, 1.2, np.nan]), 1e-6)
    assert s[0] == math.ceil(math.log(1e-6) / math.log(0.5))
    assert s[1] == math.ceil(math.log(1e-6) / math.log(0.9))
    assert np.isinf(s[2:]).all()


def test_rates_on_dirac_gan(tmp_path, capsys):
    lr = 0.5
    assert main(["rates", "--grid", "12", "--sim-grid", "4", "--steps", "400",
                 "--lr", str(lr), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    res = json.loads((tmp_path / "results.json").read_text())
    # Closed forms: Dirac GAN simGD |eig| = sqrt(1 + lr^2/4); alternating GD exactly 1.
    assert res["baseline_rates"]["simgd"] == pytest.approx(math.sqrt(1 + lr**2 / 4), abs=1e-12)
    assert res["baseline_rates"]["alternating GD"] == pytest.approx(1.0, abs=1e-12)
    assert res["best"]["spectral_radius"] < 0.97          # complex momentum converges
    assert res["best_real"]["spectral_radius"] >= 1 - 1e-12   # no real beta does
    assert "does not converge" in out and "best setting" in out
    z = np.load(tmp_path / "rates.npz")
    assert z["spectral_radius"].shape == (12, 12) and z["steps_simulated"].shape == (4, 4)
    # |beta| = 0 is gradient descent: the grid's first row equals simgd's rate.
    np.testing.assert_allclose(z["spectral_radius"][0], math.sqrt(1 + lr**2 / 4), atol=1e-12)
    assert (tmp_path / "rates_dirac_gan.png").stat().st_size > 1000


def test_rates_rejects_bad_names(tmp_path, capsys):
    assert main(["rates", "--game", "poker", "--out", str(tmp_path)]) == 2
    assert "unknown game name 'poker'" in capsys.readouterr().err
    assert main(["rates", "--dynamics", "simgd", "--out", str(tmp_path)]) == 2
    assert "unknown dynamics name 'simgd'" in capsys.readouterr().err


def test_block_radius_matches_numpy_and_the_full_linearization():
    gamma_max = 0.7
    game = games.adversarial(gamma_max)
    blocks = adversarial.coordinate_blocks(game)
    # Coordinate k's Jacobian block (Lorraine et al. 2022): [[(1-g) b, -g a], [g a, (1-g) b]].
    g, ab = np.linspace(0, gamma_max, 7), np.linspace(0.25, 4, 7)
    hand = np.stack([[[(1 - gk) * bk, -gk * bk], [gk * bk, (1 - gk) * bk]]
                     for gk, bk in zip(g, ab)])
    np.testing.assert_allclose(blocks, hand, atol=1e-14)
    lrs = jnp.array([0.1, 0.4, 0.05])
    betas = jnp.array([0.5 + 0j, -0.3 + 0j, 0.8 * np.exp(0.9j)])
    got = np.asarray(adversarial.momentum_radius(blocks, lrs, betas))
    for lr, b, r in zip(np.asarray(lrs), np.asarray(betas), got):
        expect = max(np.max(np.abs(np.linalg.eigvals(augmented_simultaneous(h, lr, b))))
                     for h in hand)
        assert r == pytest.approx(expect, abs=1e-10)
        # ... and the block shortcut equals the whole game's linearised step.
        full = dynamics.spectral_radius(game, dynamics.complex_momentum(float(lr), complex(b)),
                                        game.equilibrium())
        assert r == pytest.approx(float(full), abs=1e-10)


def test_adversarial_gda_at_zero_matches_the_quadratic_closed_form(tmp_path, capsys):
    grid, tol = 8, 1e-6
    rows = adversarial.run(2, grid=grid, n_args=3, tol=tol, out=tmp_path, echo=print)
    # gamma_max = 0: two decoupled minimisations with curvatures b = linspace(1/4, 4, 7);
    # GD's rate at lr is max_k |1 - lr b_k|.
    b = np.linspace(0.25, 4, 7)
    lrs = np.logspace(-2.5, 0.5, grid)
    rho = np.max(np.abs(1 - lrs[:, None] * b[None]), axis=1)
    evals = np.where(rho < 1, np.ceil(np.log(tol) / np.log(rho)), np.inf).min()
    assert rows[0.0]["GDA"]["evals"] == evals
    # gamma_max = 1: the last coordinate is purely bilinear, so GDA and real momentum
    # never converge.
    assert math.isinf(rows[1.0]["GDA"]["evals"]) and math.isinf(rows[1.0]["momentum+"]["evals"])
    assert math.isfinite(rows[1.0]["complex (best arg)"]["evals"])
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert (tmp_path / "adversarial.png").exists()
    assert "advantage" in capsys.readouterr().out


def test_sweeps_report_progress_in_chunks_with_the_same_results():
    game = games.dirac_gan()
    mags, args = np.linspace(0, 0.9, 5), np.linspace(0, np.pi, 7)
    calls = []
    chunked = dynamics.spectral_radius_grid(game, [0.5], mags, args,
                                            progress=lambda d, n: calls.append((d, n)))
    np.testing.assert_array_equal(chunked, dynamics.spectral_radius_grid(game, [0.5], mags,
                                                                         args))
    assert [n for _, n in calls] == [35] * len(calls) and len(calls) > 1
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and calls[-1][0] == 35


def test_rates_with_one_step_and_the_smallest_grids_still_plots(tmp_path):
    assert main(["rates", "--steps", "1", "--grid", "2", "--sim-grid", "2",
                 "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["complete"] is True and res["options"]["steps"] == 1
    assert (tmp_path / "rates_dirac_gan.png").read_bytes()[:4] == b"\x89PNG"
