"""Fault tests of `gamedyn` output folders (experiments/_rundir.py).

SIGTERM at any moment leaves either the previous or the new complete run in
``--out`` (never a mix) and no temporary folder or lock file; an ``--out`` that
cannot be written exits 2 before any computation; two runs into one ``--out``
never interleave.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dynamics
from experiments import _rundir, compare
from experiments._progress import partial_writer
from experiments.cli import main

REPO = Path(__file__).resolve().parents[1]
SMALL = ["compare", "--game", "bilinear", "--dynamics", "simgd", "--steps", "200"]
LR_OLD, LR_NEW = 0.2, 0.1        # the previous run and the new one: distinguishable output


# ---------------------------------------------------------------- helpers

def leftovers(out: Path) -> list[str]:
    """Temporary folders and lock files of ``out`` left in its parent."""
    return sorted(p.name for p in out.parent.iterdir()
                  if p.name.startswith(f".{out.name}.tmp-") or p.name == f".{out.name}.lock")


def snapshot(path: Path) -> dict:
    """Every entry under ``path`` (itself included): mode and bytes of files."""
    snap = {}
    for p in [path, *sorted(path.rglob("*"))] if path.is_dir() else [path]:
        st = p.lstat()
        snap[str(p.relative_to(path.parent))] = (
            stat.S_IMODE(st.st_mode), p.read_bytes() if p.is_file() else None)
    return snap


def check_complete_run(folder: Path) -> float:
    """``folder`` holds one complete `compare` run whose files agree; its --lr."""
    names = sorted(p.name for p in folder.iterdir())
    res = json.loads((folder / "results.json").read_text())
    assert res["command"] == "compare" and res["complete"] is True, names
    opts = res["options"]
    curves = np.load(folder / "distances.npz")
    keys = {f"{g}/{d}" for g, rec in res["games"].items() for d in rec["runs"]}
    assert set(curves.files) == keys
    for g, rec in res["games"].items():
        if f"distance_{g}.png" in names:
            assert (folder / f"distance_{g}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        for d, row in rec["runs"].items():
            dist = curves[f"{g}/{d}"]
            assert len(dist) in (opts["steps"], opts["steps"] + 1)
            # The curves are the ones the JSON's numbers were computed from.
            assert row["final_distance"] == pytest.approx(float(dist[-1]), rel=1e-12)
            assert row["measured_rate"] == pytest.approx(compare.fit_rate(dist), rel=1e-12)
    extra = set(names) - {"results.json", "distances.npz"} - {
        f"distance_{g}.png" for g in res["games"]}
    assert not extra, f"files of no run: {extra}"
    return opts["lr"]


def fingerprint(folder: Path) -> tuple:
    """File names and contents; results.json without its run time."""
    files = []
    for p in sorted(folder.iterdir()):
        data = p.read_bytes()
        if p.name == "results.json":
            res = json.loads(data)
            res.pop("elapsed_s", None)
            data = json.dumps(res, sort_keys=True).encode()
        files.append((p.name, hashlib.sha256(data).hexdigest()))
    return tuple(files)


def gamedyn(*argv, **popen):
    return subprocess.Popen([sys.executable, "-m", "experiments.cli", *argv], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def no_computation(monkeypatch):
    """Make any computation fail the test."""
    def boom(*a, **k):
        raise AssertionError("computation started")
    monkeypatch.setattr(compare, "compute", boom)
    monkeypatch.setattr(compare, "compare_one", boom)
    monkeypatch.setattr(dynamics, "simulate", boom)


@pytest.fixture
def handlers_restored():
    """main() leaves the SIGTERM and SIGINT handlers as it found them."""
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    assert {s: signal.getsignal(s) for s in before} == before


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    """The previous run (--lr 0.2) and the new one (--lr 0.1), each run once to the
    end as a subprocess; and how long the second took (the first may have
    compiled the bytecode)."""
    base = tmp_path_factory.mktemp("refs")
    runs = {}
    for name, lr in (("old", LR_OLD), ("new", LR_NEW)):
        t0 = time.perf_counter()
        p = gamedyn(*SMALL, "--lr", str(lr), "--out", str(base / name))
        stdout, stderr = p.communicate(timeout=300)
        took = time.perf_counter() - t0
        assert p.returncode == 0, stderr
        assert check_complete_run(base / name) == lr
        runs[name] = base / name
    assert fingerprint(runs["old"]) != fingerprint(runs["new"])
    return runs, took


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """A complete earlier run (in-process, --lr 0.2, no plots) to copy into --out."""
    out = tmp_path_factory.mktemp("prev") / "run"
    assert main([*SMALL, "--lr", str(LR_OLD), "--no-plots", "--out", str(out)]) == 0
    return out


def copy_of(previous: Path, dest: Path) -> Path:
    shutil.copytree(previous, dest)
    return dest


# ---------------------------------------------------------------- 1. SIGTERM at any moment

@pytest.mark.slow
def test_sigterm_at_any_moment_leaves_the_old_or_the_new_run(refs, tmp_path):
    runs, took = refs
    fp_old, fp_new = fingerprint(runs["old"]), fingerprint(runs["new"])
    rng = random.Random(1234)
    # Four delays stratified over [0, 1.25 x a whole run]: during start-up and
    # imports, the computation, the writing, and after the run would have
    # finished; then two signals timed by what the run has written: as soon as
    # its temporary folder exists (computing), and as soon as its partial
    # results.json does (computed, writing the report).
    n = 4
    triggers = [("delay", 1.25 * took * (i + rng.random()) / n) for i in range(n)]
    triggers += [("tmp folder", None), ("partial results", None)]
    seen = []
    for k, (when, delay) in enumerate(triggers):
        out = tmp_path / f"t{k}" / "out"
        out.parent.mkdir()
        shutil.copytree(runs["old"], out)
        t0 = time.perf_counter()
        p = gamedyn(*SMALL, "--lr", str(LR_NEW), "--out", str(out))
        mid_run = False
        if delay is not None:
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                mid_run = any(".tmp-" in name for name in leftovers(out))
        else:
            target = "" if when == "tmp folder" else "results.json"
            while p.poll() is None:
                tmps = list(out.parent.glob(".out.tmp-*"))
                if tmps and (tmps[0] / target).exists():
                    mid_run = True
                    break
                time.sleep(0.002)
        p.send_signal(signal.SIGTERM)         # a no-op if it has exited
        stdout, stderr = p.communicate(timeout=120)
        rc = p.returncode
        where = f"trial {k} ({when}, {time.perf_counter() - t0:.2f} s, rc {rc}): {stderr}"
        # Killed before the handler was set (start-up), interrupted, or finished.
        assert rc in (-signal.SIGTERM, 128 + signal.SIGTERM, 0), where
        if rc == 128 + signal.SIGTERM:
            assert "interrupted" in stderr and "Traceback" not in stderr, where
        assert leftovers(out) == [], where
        assert sorted(p.name for p in out.parent.iterdir()) == ["out"], where
        lr = check_complete_run(out)
        fp = fingerprint(out)
        assert fp == (fp_new if lr == LR_NEW else fp_old), where     # not a mix
        if rc == 0:
            assert fp == fp_new, where
        seen.append(("new" if fp == fp_new else "old", rc, mid_run))
        print(f"trial {k}: {when} {delay or 0:.2f} s -> {seen[-1]}")   # shown on failure
    # The signals did land mid-run (the temporary folder existed) and left the
    # previous run in place there.
    assert any(mid and what == "old" for what, rc, mid in seen), seen


# ---------------------------------------------------------------- 2. unusable --out

@pytest.mark.parametrize("case", ["file", "read-only folder", "inside read-only folder",
                                  "below read-only folder"])
def test_unwritable_out_exits_2_before_any_computation(case, previous, tmp_path,
                                                       monkeypatch, capsys,
                                                       handlers_restored):
    no_computation(monkeypatch)
    ro = tmp_path / "ro"
    ro.mkdir()
    if case == "file":
        out = ro / "out"
        out.write_text("not a folder\n")
        read_only = None
    elif case == "read-only folder":     # holding an earlier run
        out = read_only = copy_of(previous, ro / "out")
    else:
        out = ro / "out" if case == "inside read-only folder" else ro / "a" / "b" / "out"
        read_only = ro
    if read_only is not None:
        os.chmod(read_only, 0o555)
    try:
        before = snapshot(ro)
        rc = main([*SMALL, "--out", str(out)])
        after = snapshot(ro)
    finally:
        if read_only is not None:
            os.chmod(read_only, 0o755)
    err = capsys.readouterr().err
    assert rc == 2
    assert "gamedyn compare: error: " in err and str(out) in err
    assert {"file": "exists and is not a folder",
            "read-only folder": "is a read-only folder",
            "inside read-only folder": f"{ro} is not a writable folder",
            "below read-only folder": f"{ro} is not a writable folder"}[case] in err
    assert after == before                      # nothing created, nothing changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]


# ---------------------------------------------------------------- 3. concurrent runs

@pytest.mark.slow
def test_two_concurrent_runs_never_mix(refs, tmp_path):
    runs, _ = refs
    fps = {LR_OLD: fingerprint(runs["old"]), LR_NEW: fingerprint(runs["new"])}
    out = tmp_path / "out"
    procs = {lr: gamedyn(*SMALL, "--lr", str(lr), "--out", str(out)) for lr in fps}
    done = {lr: (*p.communicate(timeout=300), p.returncode) for lr, p in procs.items()}
    codes = sorted(rc for _, _, rc in done.values())
    assert codes in ([0, 0], [0, 2]), done
    lr = check_complete_run(out)
    assert fingerprint(out) == fps[lr]
    if codes == [0, 2]:
        (winner,) = [w for w, (_, _, rc) in done.items() if rc == 0]
        (loser,) = [w for w, (_, _, rc) in done.items() if rc == 2]
        assert lr == winner
        err = done[loser][1]
        assert (f"another gamedyn run (pid {procs[winner].pid}) is writing to {out}"
                in err), err
        assert "Traceback" not in err
    assert leftovers(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_held_lock_exits_2_before_computing(previous, tmp_path, monkeypatch, capsys,
                                              handlers_restored):
    out = copy_of(previous, tmp_path / "out")
    lock = tmp_path / ".out.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242")
        before = snapshot(tmp_path)
        with monkeypatch.context() as m:
            no_computation(m)
            rc = main([*SMALL, "--lr", str(LR_NEW), "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2
        assert f"another gamedyn run (pid 4242) is writing to {out}" in err
        assert snapshot(tmp_path) == before
    finally:
        os.close(fd)
    # Released (the file is still there): the next run goes ahead and cleans up.
    assert main([*SMALL, "--lr", str(LR_NEW), "--no-plots", "--out", str(out)]) == 0
    assert check_complete_run(out) == LR_NEW
    assert leftovers(out) == []


# ---------------------------------------------------------------- 4. foreign folders

@pytest.mark.parametrize("content", [
    {"notes.txt": "my notes\n"},
    {"results.json": '{"loss": 1.0}\n'},          # not written by gamedyn
    {"results.json": "not json\n"},
    {"sub/results.json": '{"command": "compare"}\n'},
])
def test_a_folder_that_is_not_a_gamedyn_run_is_refused_and_untouched(
        content, tmp_path, monkeypatch, capsys, handlers_restored):
    no_computation(monkeypatch)
    out = tmp_path / "mine"
    for name, text in content.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    before = snapshot(tmp_path)
    assert main([*SMALL, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "not a gamedyn run" in err
    assert snapshot(tmp_path) == before


def test_an_empty_folder_is_fine(tmp_path, capsys, handlers_restored):
    out = tmp_path / "empty"
    out.mkdir()
    assert main([*SMALL, "--no-plots", "--out", str(out)]) == 0
    assert check_complete_run(out) == 0.2
    assert leftovers(out) == []


# ---------------------------------------------------------------- 5. interrupts in-process

@pytest.mark.parametrize("kind", ["SIGINT", "SIGTERM", "exception"])
def test_an_interrupted_computation_leaves_the_previous_run(kind, previous, tmp_path,
                                                            monkeypatch, capsys,
                                                            handlers_restored):
    out = copy_of(previous, tmp_path / "out")
    before = snapshot(tmp_path)
    calls = []

    def compute(*args, **kwargs):
        # Part-way: a partial results.json and a stray file in the temporary folder.
        (tmp,) = tmp_path.glob(".out.tmp-*")
        partial_writer(tmp)({"command": "compare", "options": {}, "games": {}})
        (tmp / "distances.npz").write_bytes(b"half written")
        assert json.loads((tmp / "results.json").read_text())["complete"] is False
        calls.append(tmp)
        if kind == "SIGINT":
            raise KeyboardInterrupt
        if kind == "exception":
            raise RuntimeError("the computation failed")
        assert signal.getsignal(signal.SIGTERM) is _rundir._raise_interrupted
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(500):
            time.sleep(0.01)
        raise AssertionError("SIGTERM did not interrupt the run")

    monkeypatch.setattr(compare, "compute", compute)
    argv = [*SMALL, "--lr", str(LR_NEW), "--out", str(out)]
    if kind == "exception":
        with pytest.raises(RuntimeError, match="the computation failed"):
            main(argv)
    else:
        rc = main(argv)
        assert rc == 128 + (signal.SIGINT if kind == "SIGINT" else signal.SIGTERM)
        assert "interrupted; --out holds the previous complete results" in \
            capsys.readouterr().err
    assert calls                        # the temporary folder did exist, with files
    assert snapshot(tmp_path) == before
    assert leftovers(out) == []


def test_sigterm_during_the_swap_is_held_until_it_is_done(previous, tmp_path, monkeypatch,
                                                          capsys, handlers_restored):
    """The signal comes between the two renames (out -> old, tmp -> out): it is
    acted on only once the new run is in place."""
    out = copy_of(previous, tmp_path / "out")
    real_rename, sent = os.rename, []

    def rename(src, dst, *args, **kwargs):
        real_rename(src, dst, *args, **kwargs)
        if Path(src) == out and not sent:
            sent.append(dst)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.3)         # a handler that is not held off runs now

    monkeypatch.setattr(os, "rename", rename)
    rc = main([*SMALL, "--lr", str(LR_NEW), "--no-plots", "--out", str(out)])
    assert sent
    assert rc == 128 + signal.SIGTERM           # not lost either
    assert check_complete_run(out) == LR_NEW
    assert leftovers(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_swap_cut_short_by_sigkill_keeps_the_previous_run(previous, tmp_path,
                                                            monkeypatch, capsys,
                                                            handlers_restored):
    """SIGKILL between the two renames leaves no --out, the previous run as
    ``.out.tmp-old-*`` and the new one as ``.out.tmp-*``; the next run puts the
    previous one back before anything else."""
    copy_of(previous, tmp_path / ".out.tmp-old-0123abcd")
    (tmp_path / ".out.tmp-999-89abcdef").mkdir()
    (tmp_path / ".out.tmp-999-89abcdef" / "results.json").write_text('{"complete": false}')
    out = tmp_path / "out"

    def compute(*args, **kwargs):
        assert check_complete_run(out) == LR_OLD
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "compute", compute)
    assert main([*SMALL, "--lr", str(LR_NEW), "--out", str(out)]) == 130
    assert snapshot(out) == {k.replace("run", "out", 1): v
                             for k, v in snapshot(previous).items()}
    assert leftovers(out) == []


def test_a_successful_run_restores_the_handlers_and_leaves_nothing(previous, tmp_path,
                                                                    capsys,
                                                                    handlers_restored):
    out = copy_of(previous, tmp_path / "out")
    assert main([*SMALL, "--lr", str(LR_NEW), "--no-plots", "--out", str(out)]) == 0
    assert check_complete_run(out) == LR_NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert math.isfinite(json.loads((out / "results.json").read_text())["elapsed_s"])


def test_stale_folders_are_matched_by_the_exact_name(tmp_path, capsys, handlers_restored):
    """Cleaning up after ``--out r[1]`` leaves the temporary folder of a run into
    ``r1`` (a glob would match it) alone."""
    other = tmp_path / ".r1.tmp-4242-0123abcd"
    other.mkdir()
    (other / "results.json").write_text('{"command": "compare", "complete": false}')
    out = tmp_path / "r[1]"
    assert main([*SMALL, "--no-plots", "--out", str(out)]) == 0
    assert check_complete_run(out) == LR_OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, out.name]


def test_a_lock_holder_still_writing_its_pid_is_named(tmp_path):
    # The holder truncates the lock file, then writes its pid: a run refused in
    # between must wait for the pid rather than report "pid ?".
    import threading

    from experiments._rundir import _holder
    path = tmp_path / ".out.lock"
    path.write_text("")
    threading.Timer(0.05, lambda: path.write_text("4242")).start()
    assert _holder(path) == "4242"
