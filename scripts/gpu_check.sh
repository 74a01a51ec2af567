#!/usr/bin/env bash
# One short device check (< 8 min on an H200) for a session lent the GPU machine:
#   run(command="bash scripts/gpu_check.sh", timeout_s=540)
# Also runs on a CPU-only machine with smaller sizes (a few minutes):
#   OUT=/tmp/gpucheck bash scripts/gpu_check.sh
#
# Installs the checkout without dependencies (the image has JAX with CUDA, equinox, optax, ...),
# then, each step under `timeout` (a failure is recorded in $OUT/steps.tsv and the step's log,
# never fatal), and each step's limit cut to what is left of CHECK_BUDGET_S (default 450 s):
#   devices.json          backend and devices
#   demo_observables.csv, demo_fixed_observables.csv
#                         the demo with adaptive ROS2 steps (the default) and with fixed
#                         first-order steps (steps, rejected steps and the neck in each)
#   bench_adaptive.json   scripts/bench_adaptive.py --quick: adaptive vs fixed steps over four
#                         decades of time (64^2, float64)
#   bench_gpu.json        scripts/bench.py --gpu: float32 step vs memory-bandwidth bound
#                         (4096^2, 256^3 on a GPU; --quick 1024^2, 64^3 on a CPU)
#   bench_motion.txt      scripts/bench_motion.py: the step with rigid-body motion vs without
#   bench_packing.json    scripts/bench_packing.py: step time vs particle count at fixed fields
#                         (2D >= 1000 particles, 3D 100), sweep throughput (--quick on a CPU)
#   bench_memory.json     scripts/bench_memory.py, if present (--quick on a CPU)
#   summary.csv           sintersim sweep experiments/sweeps/seed001_pair_sweep.toml (if present)
#   hex_observables.csv, random3d_observables.csv
#                         short runs of the two scenario examples (experiments/scenarios/)
# Each step's output goes to $OUT/<step>.txt.
set -uo pipefail
OUT=${OUT:-out/gpu_check}
BUDGET=${CHECK_BUDGET_S:-470}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STEPS="$OUT/steps.tsv"
printf 'step\texit\tseconds\tlimit_s\n' > "$STEPS"

# step NAME CAP_S CMD...: run CMD under timeout min(CAP_S, budget left - 10 s), output to
# $OUT/NAME.txt; skipped (exit "skipped") when under 20 s are left.
step() {
    local name=$1 cap=$2
    shift 2
    local left=$((BUDGET - SECONDS - 10))
    local limit=$((cap < left ? cap : left))
    if ((limit < 20)); then
        echo "$name: skipped, ${left} s of the ${BUDGET} s budget left" | tee "$OUT/$name.txt"
        printf '%s\tskipped\t0\t%s\n' "$name" "$limit" >> "$STEPS"
        return 0
    fi
    local t0=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.txt" 2>&1 || rc=$?
    if ((rc != 0)); then
        echo "$name: exit $rc$( ((rc == 124)) && echo " (timed out after ${limit} s)")" \
            | tee -a "$OUT/$name.txt"
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" "$limit" >> "$STEPS"
    echo "$name: exit $rc, $((SECONDS - t0)) s"
    return 0
}

step install 120 python -m pip install --no-deps -q -e .
step devices 60 python -c '
import json, sys, jax
d = {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
     "jax": jax.__version__}
open(sys.argv[1], "w").write(json.dumps(d) + "\n")
print(json.dumps(d))' "$OUT/devices.json"

BACKEND=$(python -c 'import jax; print(jax.default_backend())' 2>/dev/null || echo unknown)
echo "backend: $BACKEND"
if [[ $BACKEND == gpu || $BACKEND == cuda || $BACKEND == rocm ]]; then
    QUICK=()
else
    QUICK=(--quick)
fi

# adaptive time steps first: the demo (adaptive ROS2, float32) against fixed first-order steps,
# then the four-decade table of scripts/bench_adaptive.py (--quick: 64^2 to t = 1000)
rm -rf "$OUT/demo" "$OUT/demo_fixed"
step demo 120 python -m sintersim demo --out "$OUT/demo" --quiet
cp "$OUT/demo/observables.csv" "$OUT/demo_observables.csv" 2>/dev/null || true
step demo_fixed 150 python -m sintersim run sintersim/data/demo.toml --out "$OUT/demo_fixed" \
    --quiet --set time.adaptive=false --set time.scheme=euler --set output.fields=false
cp "$OUT/demo_fixed/observables.csv" "$OUT/demo_fixed_observables.csv" 2>/dev/null || true
step bench_adaptive 150 python scripts/bench_adaptive.py --quick --json "$OUT/bench_adaptive.json"
step bench_gpu 100 python scripts/bench.py --gpu ${QUICK[@]+"${QUICK[@]}"} --json "$OUT/bench_gpu.json"
# rigid-body motion: step with vs without, and its parts (labels, force, per-grain sums)
step bench_motion 90 python scripts/bench_motion.py ${QUICK[@]+"${QUICK[@]}"}
step bench_packing 150 python scripts/bench_packing.py ${QUICK[@]+"${QUICK[@]}"} \
    --json "$OUT/bench_packing.json"
if [[ -f scripts/bench_memory.py ]]; then
    step bench_memory 60 python scripts/bench_memory.py ${QUICK[@]+"${QUICK[@]}"} \
        --json "$OUT/bench_memory.json"
else
    echo "bench_memory: scripts/bench_memory.py not found, skipped" | tee "$OUT/bench_memory.txt"
fi
SWEEP=experiments/sweeps/seed001_pair_sweep.toml
if [[ -f $SWEEP ]]; then
    rm -rf "$OUT/sweep"
    step sweep 120 python -m sintersim sweep "$SWEEP" --out "$OUT/sweep" --quiet
    cp "$OUT/sweep/summary.csv" "$OUT/summary.csv" 2>/dev/null || true
else
    echo "sweep: $SWEEP not found, skipped" | tee "$OUT/sweep.txt"
fi
if [[ ${#QUICK[@]} -eq 0 ]]; then
    HEX_END=0.1; R3D_END=2e-6
else
    HEX_END=0.002; R3D_END=1e-7
fi
for ex in hex:seed000_pbse_hex_monolayer:$HEX_END random3d:seed004_cspbbr3_random_3d:$R3D_END; do
    IFS=: read -r name cfg end <<< "$ex"
    rm -rf "$OUT/$name"
    step "$name" 90 python -m sintersim run "experiments/scenarios/$cfg.toml" --out "$OUT/$name" \
        --set time.end_s="$end" --set time.n_saves=4 --set time.save_spacing=linear \
        --set output.fields=false
    cp "$OUT/$name/observables.csv" "$OUT/${name}_observables.csv" 2>/dev/null || true
    rm -f "$OUT/$name/run.h5"
done
echo "gpu_check done in ${SECONDS} s: $(ls "$OUT" | tr '\n' ' ')"
