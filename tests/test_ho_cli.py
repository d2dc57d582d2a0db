"""`gamedyn ho`: each task end to end at a small size, its claims, and bad options."""

import json

import numpy as np
import pytest

from experiments import ho
from experiments.cli import main

pytest.importorskip("sklearn")


def _run(tmp_path, capsys, *args):
    out = tmp_path / "run"
    assert main(["ho", *args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    return json.loads((out / "results.json").read_text()), out, printed


@pytest.mark.slow
def test_best_response_small(tmp_path, capsys):
    res, out, printed = _run(tmp_path, capsys, "--task", "best-response", "--grid", "3",
                             "--train-steps", "30", "--fit-steps", "30", "--steps", "30")
    assert res["complete"] and res["task"] == "best-response"
    rows = res["rows"]
    assert set(rows) == {"cross-validation", "global hypernetwork", "joint hypernetwork"}
    z = np.load(out / "arrays.npz")
    assert z["cv_val_loss"].shape == (3,) and np.isfinite(z["cv_val_loss"]).all()
    # the reported cross-validation minimiser is the grid point of least loss
    assert rows["cross-validation"]["argmin"] == pytest.approx(
        z["cv_log_decay"][np.argmin(z["cv_val_loss"])])
    assert rows["cross-validation"]["val_loss"] == pytest.approx(z["cv_val_loss"].min())
    assert (out / "best_response.png").stat().st_size > 1000
    assert "cross-validation" in printed and "weights trained there" in printed


@pytest.mark.slow
def test_weight_decay_small(tmp_path, capsys):
    res, out, printed = _run(tmp_path, capsys, "--task", "weight-decay", "--steps", "4",
                             "--train-steps", "8")
    rows = res["rows"]
    assert set(rows) == {"training alone", "neumann", "cg", "unrolled", "hypernetwork"}
    for name, r in rows.items():
        assert r["curve"]["training_steps"][-1] == 8, name
        assert r["curve"]["seconds"] == sorted(r["curve"]["seconds"])
    # training alone never moves the decays; the tuned runs do
    alone = rows["training alone"]["log_decays"]
    assert alone["min"] == alone["max"] == pytest.approx(np.log(1e-3), rel=1e-6)
    assert rows["cg"]["log_decays"]["min"] < rows["cg"]["log_decays"]["max"]
    assert rows["neumann"]["log_decays"]["count"] == 64 * 64 + 64 + 64 * 10 + 10
    assert res["summary"]["reference"]["points"]
    assert (out / "weight_decay.png").stat().st_size > 1000
    assert "Neumann tuning costs" in printed


def test_overfit_fits_validation_not_test(tmp_path, capsys):
    res, out, printed = _run(tmp_path, capsys, "--task", "overfit", "--steps", "60")
    s = res["summary"]
    assert s["final"]["val_accuracy"] == 1.0
    assert s["final"]["test_accuracy"] < 0.95
    assert s["final_gap"] > s["start_gap"]
    assert res["setup"]["hyperparameters"] == res["setup"]["weights"] == 650
    assert (out / "overfit.png").stat().st_size > 1000


@pytest.mark.slow
def test_distilled_images_beat_random_real_ones(tmp_path, capsys):
    res, out, printed = _run(tmp_path, capsys, "--task", "distill", "--steps", "200",
                             "--train-steps", "200", "--seeds", "3")
    s = res["summary"]
    assert len(s["learned_test_accuracy"]) == len(s["real_test_accuracy"]) == 3
    assert s["learned_mean"] > s["real_mean"] + 0.05
    z = np.load(out / "arrays.npz")
    assert z["learned_images"].shape == (10, 64) and z["real_images"].shape == (3, 10, 64)
    assert (out / "distilled.png").stat().st_size > 1000


def test_a_diverged_run_has_no_scores(tmp_path, capsys):
    # Accuracies of NaN weights (argmax of NaN logits) would be noise.
    res, out, printed = _run(tmp_path, capsys, "--task", "overfit", "--steps", "4",
                             "--train-steps", "5", "--leader-lr", "1e6")
    s = res["summary"]
    assert res["rows"]["cg"]["diverged_by"] is not None
    assert set(s["final"].values()) == {None} and s["final_gap"] is None


@pytest.mark.parametrize("args, message", [
    (["--task", "overfit", "--grid", "5"], "task 'overfit' takes no option 'grid'"),
    (["--task", "weight-decay", "--steps", "10", "--train-steps", "5"],
     "train_steps (5) must be at least steps (10)"),
    (["--task", "best-response", "--leader-lr", "1"],
     "task 'best-response' takes no option 'leader_lr'"),
])
def test_bad_options_exit_2_before_touching_out(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert main(["ho", *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("args", [["--task", "tune"], ["--leader-lr", "-1"],
                                  ["--steps", "0"]])
def test_argparse_rejects_bad_values(tmp_path, capsys, args):
    assert main(["ho", *args, "--out", str(tmp_path / "run")]) == 2
    assert "error" in capsys.readouterr().err


def test_total_units_match_defaults():
    assert ho.total_units("best-response") == 25 * 1000 + 5000 + 3000
    assert ho.total_units("overfit", steps=7) == 500 + 7
    with pytest.raises(ho.UsageError, match="unknown task"):
        ho.options_for("tune")
