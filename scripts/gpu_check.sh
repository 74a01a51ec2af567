#!/usr/bin/env bash
# One short device check (< 8 min) for a session lent the GPU machine:
#   run(command="bash scripts/gpu_check.sh", timeout_s=540)
# Installs the checkout without dependencies (the image has JAX with CUDA, equinox, optax, ...),
# runs the quick benchmark (float32, step time / FFT floor ratios, batch scaling) and a short
# run of the demo config, and writes JSON into $OUT.
set -euo pipefail
OUT=${OUT:-out/gpu_check}
mkdir -p "$OUT"
python -m pip install --no-deps -q -e . >/dev/null
python - <<'PY' > "$OUT/devices.json"
import json, jax
print(json.dumps({"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]}))
PY
timeout 360 python scripts/bench.py --quick --no-peer --json "$OUT/bench.json" > "$OUT/bench.txt" 2>&1 || echo "bench: exit $?" >> "$OUT/bench.txt"
timeout 120 python -m sintersim demo --out "$OUT/demo" --quiet > "$OUT/demo.txt" 2>&1 || echo "demo: exit $?" >> "$OUT/demo.txt"
cp "$OUT/demo/observables.csv" "$OUT/demo_observables.csv" 2>/dev/null || true
echo "gpu_check done: $(ls "$OUT")"
