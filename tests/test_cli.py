"""The `gamedyn` command: tables, files, and clear errors."""

import json
import math

import numpy as np
import pytest

from experiments import compare
from experiments.cli import main


def test_fit_rate_recovers_a_geometric_rate():
    t = np.arange(400)
    d = 3.0 * 0.93**t * (1 + 0.2 * np.cos(0.7 * t) * 0.93**t)  # transient dies out
    assert compare.fit_rate(d) == pytest.approx(0.93, abs=1e-9)
    # Stops at round-off and at the first non-finite value.
    d2 = np.concatenate([2.0 * 1.05**t[:200], [np.inf, np.nan]])
    assert compare.fit_rate(d2) == pytest.approx(1.05, rel=1e-12)
    assert math.isnan(compare.fit_rate(np.array([1.0, np.nan, 1.0])))
    assert compare.steps_to(np.array([1.0, 1e-3, 1e-7, 1e-9])) == 2
    assert compare.steps_to(np.array([1.0, 0.5])) is None


def test_compare_on_xy_matches_closed_forms(tmp_path, capsys):
    lr = 0.2
    rc = main(["compare", "--game", "bilinear", "--dynamics", "simgd,extragradient",
               "--dynamics", "alternating", "--steps", "1500", "--lr", str(lr),
               "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "== bilinear ==" in out and "predicted rate" in out
    res = json.loads((tmp_path / "results.json").read_text())
    rows = res["games"]["bilinear"]["runs"]
    assert set(rows) == {"simgd", "extragradient", "alternating"}
    # Closed forms on L = xy (Gidel et al. 2019): simGD sqrt(1 + lr^2),
    # extragradient sqrt(1 - lr^2 + lr^4), alternating GD exactly 1.
    assert rows["simgd"]["predicted_rate"] == pytest.approx(math.sqrt(1 + lr**2), abs=1e-12)
    eg = math.sqrt(1 - lr**2 + lr**4)
    assert rows["extragradient"]["predicted_rate"] == pytest.approx(eg, abs=1e-12)
    assert rows["alternating"]["predicted_rate"] == pytest.approx(1.0, abs=1e-12)
    for name in rows:   # linear game: the fitted rate is the spectral radius
        assert rows[name]["measured_rate"] == pytest.approx(rows[name]["predicted_rate"],
                                                            abs=1e-3)
    # Extragradient reaches 1e-6 after about log(1e-6 / d0) / log(rho) steps.
    d = np.load(tmp_path / "distances.npz")["bilinear/extragradient"]
    expect = math.log(1e-6 / d[0]) / math.log(eg)
    assert abs(rows["extragradient"]["steps_to_tol"] - expect) < 3
    assert rows["simgd"]["steps_to_tol"] is None
    assert (tmp_path / "distance_bilinear.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_divergence_is_reported_and_json_stays_valid(tmp_path, capsys):
    rc = main(["compare", "--game", "bilinear", "--dynamics", "simgd", "--lr", "3",
               "--steps", "2000", "--out", str(tmp_path), "--no-plots"])
    assert rc == 0
    out = capsys.readouterr().out
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    row = json.loads(text)["games"]["bilinear"]["runs"]["simgd"]
    assert row["diverged_at"] > 0 and row["final_distance"] is None
    # rho = sqrt(1 + 9) and no rotation-free mode: |params| = d0 rho^t.  The
    # parameters overflow float64 (1.797e308) only after log(1.797e308 / d0) /
    # log(rho) ~ 616 steps, but the recorded distance, a square root of a sum of
    # squares, overflows once d0^2 rho^(2t) > 1.797e308: the metric-only
    # divergence is what the table must show.
    d0 = np.load(tmp_path / "distances.npz")["bilinear/simgd"][0]
    metric_overflow = math.log(math.sqrt(1.797e308) / d0) / math.log(math.sqrt(10))
    assert abs(row["diverged_at"] - metric_overflow) < 2
    assert f"diverged at step {row['diverged_at']}" in out


@pytest.mark.parametrize("argv, fragment", [
    (["compare", "--game", "chess"], "unknown game name 'chess'"),
    (["compare", "--dynamics", "simgd,adamw"], "unknown dynamics name 'adamw'"),
    (["compare", "--lr", "-0.1"], "argument --lr: must be a finite number in (0, 1000]; got -0.1"),
    (["compare", "--lr", "inf"], "argument --lr: must be a finite number in (0, 1000]; got inf"),
    (["compare", "--steps", "3"], "argument --steps: must be an integer in [10, 10000000]; got 3"),
    (["compare", "--steps", "0"], "argument --steps: must be an integer in [10, 10000000]; got 0"),
    (["compare", "--beta", "1"], "argument --beta: must be a finite number in (-1, 1); got 1"),
    (["compare", "--seed", "99999999999999999999"], "argument --seed: must be an integer in"),
    (["rates", "--radius", "1e300"], "argument --radius: must be a finite number in (0, 1000]"),
    (["rates", "--radius", "inf"], "argument --radius: must be a finite number in (0, 1000]"),
    (["rates", "--grid", "100000"], "argument --grid: must be an integer in [2, 1024]"),
    (["gan", "--steps", "0"], "argument --steps: must be an integer in [1, 10000000]"),
    (["gan", "--seeds", "1024", "--samples", "1000000"], "GiB, more than the"),
    (["adversarial", "--grid", "400", "--args", "180"], "GiB, more than the"),
])
def test_bad_cli_input_is_a_clear_error(argv, fragment, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "choose from" in err or "got" in err or "pass a smaller" in err or "pass fewer" in err


def test_unknown_name_raises_value_error_naming_choices():
    from experiments.registry import GAMES, resolve
    with pytest.raises(ValueError, match="unknown game name 'go'.*bilinear"):
        resolve("game", ["bilinear,go"], GAMES)


@pytest.mark.slow
def test_compare_with_no_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compare"]) == 0
    out = capsys.readouterr().out
    for g in compare.DEFAULT_GAMES:
        assert f"== {g} ==" in out
        assert (tmp_path / "runs/compare" / f"distance_{g}.png").exists()
    res = json.loads((tmp_path / "runs/compare/results.json").read_text())
    assert set(res["games"]) == set(compare.DEFAULT_GAMES)
    for g in res["games"].values():
        assert set(g["runs"]) == set(compare.DEFAULT_DYNAMICS)


def test_output_files_honour_the_umask_and_npz_refuses_objects(tmp_path):
    from experiments import _io
    _io.write_json(tmp_path / "r.json", {"x": float("nan"), "y": [1, 2]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": None, "y": [1, 2]}
    # Like open(): 0666 less the process umask (mkstemp alone would give 0600).
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o666 & ~_io._UMASK
    with pytest.raises(TypeError, match="dtype object"):
        _io.write_npz(tmp_path / "a.npz", a=np.array([1, None], dtype=object))
    assert not (tmp_path / "a.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]      # no temp files left


def test_internal_errors_are_not_reported_as_usage_errors(monkeypatch):
    from experiments import compare

    def broken(*a, **k):
        raise ValueError("an internal bug")
    monkeypatch.setattr(compare, "compute", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        main(["compare"])


def test_compare_shows_simultaneous_and_alternating_negative_momentum(tmp_path, capsys):
    lr, beta = 0.5, -0.5
    assert main(["compare", "--game", "bilinear", "--dynamics",
                 "momentum,momentum_alternating", "--lr", str(lr), "--beta", str(beta),
                 "--steps", "600", "--no-plots", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    runs = res["games"]["bilinear"]["runs"]
    # Alternating updates: p(z)^2 + lr^2 z^3 = 0 with p(z) = z^2 - (1 + beta) z + beta
    # (derived in tests/test_closed_forms.py).
    p = np.array([1.0, -(1 + beta), beta])
    root = np.max(np.abs(np.roots(np.polyadd(np.polymul(p, p), [lr**2, 0, 0, 0]))))
    assert runs["momentum_alternating"]["predicted_rate"] == pytest.approx(root, abs=1e-12)
    assert runs["momentum_alternating"]["steps_to_tol"] is not None
    assert runs["momentum"]["predicted_rate"] > 1 and runs["momentum"]["steps_to_tol"] is None
    assert res["dynamics"]["momentum_alternating"]["hyperparameters"] == {
        "lr": lr, "beta": beta, "alternating": True}
    assert res["options"]["beta"] == beta and res["complete"] is True
    assert {"gamedyn", "jax", "jaxlib", "numpy", "dtype"} <= set(res["environment"])
    assert res["games"]["bilinear"]["kwargs"] == {"A": [[1.0]]}
    assert len(res["games"]["bilinear"]["start"]) == 2
    out = capsys.readouterr().out
    assert "momentum_alternating" in out
