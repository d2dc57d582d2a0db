#!/usr/bin/env bash
# One prepared accelerator check for gamedyn (under 6 minutes even if every part
# hits its limit: the limits add up to 350 s; about 90 s on an H100 before part 6;
# no installs).
#
#   PYTHONPATH=. bash benchmarks/gpu_check.sh                               # from the repo root
#   GAMEDYN_GPU_CHECK_SIZE=16384 GAMEDYN_GPU_CHECK_STEPS=200 GAMEDYN_GPU_CHECK_RATES_GRID=64 \
#       bash benchmarks/gpu_check.sh                                        # small, e.g. on a CPU
#
# 1. what JAX sees (version, backend, devices);
# 2. the default benchmark (4096 momentum settings x 1000 steps, float64) against
#    NumPy on this machine's CPU, for the ratio;
# 3. a sweep that fills the device (GAMEDYN_GPU_CHECK_SIZE settings, default 2^20)
#    in float64 and float32, printing trajectory-steps per second; the NumPy
#    reference runs only GAMEDYN_GPU_CHECK_NUMPY_STEPS steps there (rate and
#    agreement at that length);
# 4. a complex-momentum rate heatmap on the Dirac GAN (GAMEDYN_GPU_CHECK_RATES_GRID^2
#    settings of arg beta x |beta|, default 1024 x 1024, x GAMEDYN_GPU_CHECK_RATES_STEPS
#    steps, default 1000, float64) by dynamics.steps_to_tolerance_grid (the simulation
#    route: XLA's eigenvalues on a GPU are slow or missing), printed as trajectory-steps per
#    second, with the NumPy reference on 4096 of the settings for agreement and rate;
# 5. benchmarks/rates.py at its default size (64 x 64 x 1000, both games) on the device,
#    the eigenvalue route (spectral_radius_grid) on the host CPU: XLA's non-symmetric
#    eigenvalues on a GPU are slow or missing (a note, not a failure, if it fails).
# 6. dynamics.sweep, the generic sweep (also what step 4 runs through): alternating
#    momentum on adversarial(0.5) over a GAMEDYN_GPU_CHECK_SWEEP_GRID^2 (lr, beta) grid,
#    default 1024 x 1024, steps to 1e-6 within 1000 steps, timed after a warm-up call
#    (results gathered to the host included), printed as trajectory-steps per second.
# Each part has its own time limit; a part that fails or times out is reported and
# the script goes on, then exits non-zero.
set -euo pipefail
export PYTHONUNBUFFERED=1

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
PY="${PYTHON:-python3}"
SIZE="${GAMEDYN_GPU_CHECK_SIZE:-1048576}"
STEPS="${GAMEDYN_GPU_CHECK_STEPS:-1000}"
NP_STEPS="${GAMEDYN_GPU_CHECK_NUMPY_STEPS:-10}"
REPEATS="${GAMEDYN_GPU_CHECK_REPEATS:-5}"
RGRID="${GAMEDYN_GPU_CHECK_RATES_GRID:-1024}"
RSTEPS="${GAMEDYN_GPU_CHECK_RATES_STEPS:-1000}"
SGRID="${GAMEDYN_GPU_CHECK_SWEEP_GRID:-1024}"
status=0
t_start=$SECONDS

part() {   # part LIMIT_SECONDS TITLE CMD...
    local limit=$1 title=$2 rc=0
    shift 2
    echo
    echo "== $title  (limit ${limit}s)"
    local t0=$SECONDS
    if command -v timeout >/dev/null 2>&1; then
        timeout --kill-after=10 "$limit" "$@" || rc=$?
    else
        "$@" || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "!! TIMED OUT after ${limit}s: $title"
        else
            echo "!! FAILED (exit $rc): $title"
        fi
        status=1
    fi
    echo "-- $title: $((SECONDS - t0)) s"
}

part 30 "accelerator" "$PY" -c '
import os, jax
print("jax", jax.__version__, "| backend:", jax.default_backend())
print("devices:", jax.devices())
for d in jax.devices():
    try:
        limit = (d.memory_stats() or {}).get("bytes_limit")
    except Exception:
        limit = None
    mem = "" if limit is None else ", %.1f GiB usable" % (limit / 2**30)
    print("  %s:%d %s%s" % (d.platform, d.id, d.device_kind, mem))
if jax.default_backend() == "cpu":
    print("NOTE: no accelerator visible to JAX; everything below runs on the CPU"
          f" ({os.cpu_count()} cores).")
'
if command -v nvidia-smi >/dev/null 2>&1; then
    part 10 "nvidia-smi" nvidia-smi --query-gpu=name,memory.total,driver_version,utilization.gpu --format=csv
fi

part 50 "ratio: 4096 settings x 1000 steps, float64, gamedyn vs NumPy" \
    "$PY" benchmarks/sweep.py --settings 4096 --steps 1000 --repeats "$REPEATS"

part 60 "fill: $SIZE settings x $STEPS steps, float64 (NumPy settings-last, $NP_STEPS steps)" \
    "$PY" benchmarks/sweep.py --settings "$SIZE" --steps "$STEPS" --repeats "$REPEATS" \
    --numpy last --numpy-steps "$NP_STEPS" --numpy-repeats 2

part 40 "fill: $SIZE settings x $STEPS steps, float32 (gamedyn only)" \
    "$PY" benchmarks/sweep.py --settings "$SIZE" --steps "$STEPS" --repeats "$REPEATS" \
    --dtype float32 --numpy none

part 40 "rate heatmap: ${RGRID}x${RGRID} complex momentum settings x $RSTEPS steps, Dirac GAN, float64 (NumPy on 4096)" \
    "$PY" benchmarks/rates.py --games dirac_gan --grid "$RGRID" --steps "$RSTEPS" \
    --repeats "$REPEATS" --eig off --no-sketch --numpy-subset 4096

part 60 "rates: 64x64 settings x 1000 steps, both games (eigenvalue route on the host CPU)" \
    "$PY" benchmarks/rates.py --repeats "$REPEATS" --no-sketch

part 60 "dynamics.sweep: ${SGRID}x${SGRID} alternating-momentum settings x 1000 steps, adversarial(0.5), float64" \
    "$PY" -c '
import sys, time, jax, numpy as np
jax.config.update("jax_enable_x64", True)
import dynamics, games
n, steps = int(sys.argv[1]), 1000
game = games.adversarial(0.5)
start = game.init(jax.random.key(0))
grid = {"lr": np.linspace(0.01, 0.5, n), "beta": np.linspace(-0.9, 0.9, n)}
def factory(lr, beta):          # one function object: one compiled program
    return dynamics.momentum(lr, beta, alternating=True)
run = lambda: dynamics.sweep(game, factory, grid, measure="steps", params=start,
                             steps=steps, tol=1e-6)
t = time.perf_counter(); run(); first = time.perf_counter() - t
times = []
for _ in range(3):
    t = time.perf_counter(); res = run(); times.append(time.perf_counter() - t)
med = float(np.median(times))
reached = int(np.isfinite(res.values["steps"]).sum())
print(f"first call {first:.2f} s; median of 3 {med * 1e3:.1f} ms over {len(jax.devices())} "
      f"device(s): {n * n * steps / med:.3e} trajectory-steps/s; "
      f"{reached} of {n * n} settings reach 1e-6")
print("last call by phase: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in res.seconds.items()))
' "$SGRID"

echo
echo "== gpu_check done in $((SECONDS - t_start)) s, status $status"
exit "$status"
