"""`gamedyn lyapunov` and `gamedyn grr` end to end at small sizes."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games
from experiments.cli import main
from search import SearchTree


def test_lyapunov_heatmap_and_bifurcation(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["lyapunov", "--grid", "6", "--steps", "10", "--iters", "30",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    z = np.load(out / "exponents.npz")
    assert z["exponent"].shape == (6, 6) and res["complete"]
    # a grid cell against the library called directly (rows theta_2, columns theta_1)
    a, b = float(z["axis"][4]), float(z["axis"][1])
    direct = dynamics.lyapunov_exponents(games.small_ipd(), dynamics.simgd(1.0),
                                         (jnp.asarray(a), jnp.asarray(b)), 10,
                                         key=jax.random.key(0)).exponents[0]
    assert float(z["exponent"][1, 4]) == pytest.approx(float(direct), abs=1e-12)
    bif = res["bifurcation"]
    assert bif["exponent"] > bif["objective_first"]
    assert (out / "lyapunov.png").stat().st_size > 1000
    assert "Ridge Rider's saddle criterion" in printed


def test_lyapunov_bad_options(tmp_path, capsys):
    assert main(["lyapunov", "--low", "2", "--high", "1", "--out", str(tmp_path / "r")]) == 2
    assert "--low must be below --high" in capsys.readouterr().err
    assert main(["lyapunov", "--start", "1", "--out", str(tmp_path / "r")]) == 2
    assert "two numbers" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_grr_on_the_small_ipd_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["grr", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    classes = sorted(tuple(s["classes"]) for s in res["solutions"])
    assert classes == [("defect", "defect"), ("tit_for_tat", "tit_for_tat")]
    assert res["base_learner_alone"]["classes"] == ["tit_for_tat", "tit_for_tat"]
    tree = SearchTree.load(out / "tree.json")
    assert len(tree) == 4 and (out / "tree.png").stat().st_size > 1000
    assert "2 distinct solution(s)" in printed
    # resume one level deeper from the saved tree
    deeper = tmp_path / "deeper"
    assert main(["grr", "--resume", str(out / "tree.json"), "--depth", "2", "--no-plots",
                 "--out", str(deeper)]) == 0
    assert SearchTree.load(deeper / "tree.json").depth == 2
    assert not (tmp_path / "deeper.checkpoint.json").exists()    # removed once complete
    # a tree of another search is refused before any work
    assert main(["grr", "--resume", str(out / "tree.json"), "--game", "mix", "--depth", "2",
                 "--out", str(tmp_path / "mixed")]) == 2
    assert "saved by a different search (game: saved 'SmallIPD" in capsys.readouterr().err
    assert not (tmp_path / "mixed").exists()


def test_an_interrupted_grr_keeps_its_checkpoint_to_resume(tmp_path, capsys, monkeypatch):
    from experiments import grr
    real = grr.compute

    def interrupted(*args, checkpoint=None, **kwargs):
        def save_then_stop(tree):          # the first level completes, then a signal
            checkpoint(tree)
            raise KeyboardInterrupt
        return real(*args, checkpoint=save_then_stop, **kwargs)
    monkeypatch.setattr(grr, "compute", interrupted)
    out = tmp_path / "run"
    assert main(["grr", "--out", str(out)]) == 130
    saved = tmp_path / "run.checkpoint.json"
    assert f"continue it with --resume {saved}" in capsys.readouterr().err
    assert not out.exists() and len(SearchTree.load(saved)) == 4
    monkeypatch.setattr(grr, "compute", real)
    assert main(["grr", "--resume", str(saved), "--depth", "2", "--no-plots",
                 "--out", str(out)]) == 0
    assert SearchTree.load(out / "tree.json").depth == 2 and not saved.exists()


def test_grr_bad_options(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["grr", "--resume", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "not a complete JSON file" in capsys.readouterr().err
    assert main(["grr", "--game", "ipd", "--start", "1,1", "--out", str(tmp_path / "r")]) == 2
    assert "the IPD starts from --seed" in capsys.readouterr().err
