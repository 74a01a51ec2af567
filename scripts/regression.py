"""Regression table of the project's key numbers, measured the same way on any checkout.

    python scripts/regression.py --root DIR --out FILE.json [--md FILE.md]
    python scripts/regression.py --compare BEFORE.json AFTER.json [--md FILE.md] [--rtol 1e-6]

The first form runs everything as subprocesses with cwd=DIR, PYTHONPATH=DIR and JAX_PLATFORMS=cpu
(this script never imports sintersim), so it measures whichever checkout DIR is, and writes one
JSON of named numbers. Each item records the command that made it (``{python}`` is the
interpreter, ``{tmp}`` a scratch folder), its wall time, and its values; an item that cannot run
is kept with ``"skipped": reason``. Items (about 6-8 minutes on 2 CPU cores):

* ``demo``: ``python -m sintersim demo``: neck width at the first / 25 % / 50 % / 75 % / last save
  of observables.csv, final shrinkage and free energy, mass drift, the unit map (mapping.json:
  requested -> measured interface energies and width), the run.h5 unit attributes and a few
  statistics of the last saved fields;
* ``two_particles``: ``python -m sintersim run experiments/two_particles/config.toml`` (the same
  case through ``run``);
* ``materials``: the preset values printed by ``python -m sintersim materials NAME``;
* ``neck_exponents``: ``scripts/neck_exponents.py --quick`` (3D neck exponents, Herring scaling,
  the acceptance criteria);
* ``fit_twin``: ``scripts/fit_twin.py`` (fitted values, standard errors, loss; read at full
  precision from the FitResult, the printed table as well);
* ``seed000`` .. ``seed004``: ``experiments/seed00N_*/run.py --smoke --out {tmp}/...``, every
  number of the simulated column of results.md (and the agreement text);
* ``bench``: ``scripts/bench.py --quick --no-peer --no-grad`` step / FFT-floor ratios (timing:
  never flagged by --compare).

The analytic verification cases (Mullins decay rate, Allen-Cahn curvature flow, dihedral angle)
exist only inside tests/test_verification.py and are listed as skipped.

``--compare`` prints a markdown table (name, before, after, relative difference) and flags every
non-timing row whose relative difference exceeds ``--rtol`` (or whose text differs, or which is
missing on one side); exit code 1 when anything is flagged.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
TAG = "REGRESSION_JSON "
DEFAULT_TIMEOUT = 420

SKIPPED_STATIC = {
    "verification.mullins_decay_rate": "only in tests/test_verification.py (no script computes it)",
    "verification.curvature_flow": "only in tests/test_verification.py (no script computes it)",
    "verification.dihedral_angle": "only in tests/test_verification.py (no script computes it)",
    "neck_exponents.full": "the full run (R = 16) takes ~10 min; --quick (R = 10) is recorded",
    "bench.full": "the full benchmark takes ~9 min; --quick steps only (no peer, no gradient)",
    "seed_experiments.reduced": "the reduced settings take up to 20 min together; --smoke only",
    "fit_seed001": "experiments/fit_seed001/fit.py fits real data (minutes); fit_twin covers _fit",
}


# ------------------------------------------------------------------------------------------------
# running


class Runner:
    def __init__(self, root: Path, python: str, tmp: Path, timeout: float, log):
        self.root, self.python, self.tmp, self.timeout, self.log = root, python, tmp, timeout, log
        self.env = dict(os.environ)
        self.env.update(
            PYTHONPATH=str(root),
            JAX_PLATFORMS="cpu",
            MPLBACKEND="Agg",
            PYTHONHASHSEED="0",
            TQDM_DISABLE="1",
        )

    def run(self, args: list[str], *, timeout: float | None = None) -> tuple[int, str, str, float]:
        cmd = [self.python if a == "{python}" else a.replace("{tmp}", str(self.tmp)) for a in args]
        t0 = time.perf_counter()
        try:
            r = subprocess.run(
                cmd,
                cwd=self.root,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout or self.timeout,
                stdin=subprocess.DEVNULL,
            )
            rc, out, err = r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            rc = -999
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = f"timeout after {timeout or self.timeout:.0f} s"
        return rc, out, err, time.perf_counter() - t0


def _cmd_text(args: list[str]) -> str:
    return " ".join(a if " " not in a and "\n" not in a else repr(a) for a in args)


def _snippet(code: str) -> list[str]:
    return ["{python}", "-c", textwrap.dedent(code)]


def _tagged(stdout: str) -> dict:
    for line in reversed(stdout.splitlines()):
        if line.startswith(TAG):
            return json.loads(line[len(TAG) :])
    raise RuntimeError("no tagged JSON line in the output")


def _fail(rc: int, out: str, err: str) -> str:
    tail = (err.strip() or out.strip())[-600:]
    return f"exit code {rc}: {tail}"


# ------------------------------------------------------------------------------------------------
# items: each returns (values, timing_keys) or raises; `Skip` records a reason


class Skip(Exception):
    pass


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f


def _observables(csv_path: Path) -> dict:
    with csv_path.open() as fh:
        rows = [r for r in csv.DictReader(fh)]
    if not rows:
        raise RuntimeError(f"{csv_path} is empty")
    n = len(rows)
    vals: dict = {"saves": n}
    picks = {"first": 0, "25%": round(0.25 * (n - 1)), "50%": round(0.5 * (n - 1))}
    picks.update({"75%": round(0.75 * (n - 1)), "last": n - 1})
    neck_col = "neck_width_nm" if "neck_width_nm" in rows[0] else "neck_radius_nm"
    for label, i in picks.items():
        vals[f"time_s@{label}"] = float(rows[i]["time_s"])
        vals[f"{neck_col}@{label}"] = float(rows[i][neck_col])
    last = rows[-1]
    vals["shrinkage@last"] = float(last["shrinkage"])
    vals["free_energy_J@first"] = float(rows[0]["free_energy_J"])
    vals["free_energy_J@last"] = float(last["free_energy_J"])
    vals["centre_distance_nm@last"] = float(last["centre_distance_nm"])
    mass_col = next(c for c in rows[0] if c.startswith("mass"))
    m = [float(r[mass_col]) for r in rows]
    vals[f"{mass_col}@first"] = m[0]
    vals["mass_drift_rel@last"] = (m[-1] - m[0]) / m[0]
    vals["mass_drift_rel_max_abs"] = max(abs(x - m[0]) for x in m) / abs(m[0])
    for c in rows[0]:
        if c.startswith("grain"):
            vals[f"{c}@last"] = float(last[c])
    return vals


H5_SNIPPET = """
import json, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
out = {}
for k in ("length_m", "energy_J_m3", "time_s", "dt_internal", "dx_nm", "temperature_K"):
    if k in f.attrs:
        out["units." + k] = float(f.attrs[k])
out["status"] = str(f.attrs.get("status", ""))
for name in ("rho", "eta"):
    if "fields/" + name in f:
        a = np.asarray(f["fields/" + name][-1], dtype=np.float64)
        out[f"{name}@last.mean"] = float(a.mean())
        out[f"{name}@last.std"] = float(a.std())
        out[f"{name}@last.min"] = float(a.min())
        out[f"{name}@last.max"] = float(a.max())
if "fields/time_s" in f:
    out["frames"] = int(f["fields/time_s"].shape[0])
print("REGRESSION_JSON " + json.dumps(out))
"""


def _run_case(r: Runner, args: list[str], outdir: str) -> tuple[dict, list[str]]:
    rc, out, err, _ = r.run(args)
    if rc != 0:
        raise RuntimeError(_fail(rc, out, err))
    d = Path(outdir.replace("{tmp}", str(r.tmp)))
    vals = _observables(d / "observables.csv")
    mp = d / "mapping.json"
    if mp.exists():
        for k, v in json.loads(mp.read_text()).items():
            for kk in ("requested", "measured"):
                if isinstance(v, dict) and kk in v:
                    vals[f"mapping.{k}.{kk}"] = float(v[kk])
            if isinstance(v, dict) and v.get("requested"):
                vals[f"mapping.{k}.measured/requested"] = v["measured"] / v["requested"]
    m = re.search(r"\((\d+) internal, dt = ([\d.eE+-]+)", out + err)
    if m:
        vals["internal_steps"] = int(m.group(1))
    m = re.search(r"wall time ([\d.]+) s", out + err)
    timing = []
    if m:
        vals["reported_wall_s"] = float(m.group(1))
        timing.append("reported_wall_s")
    h5 = d / "run.h5"
    if h5.exists():
        rc, o, e, _ = r.run(_snippet(H5_SNIPPET) + [str(h5)], timeout=120)
        if rc == 0:
            vals.update({f"h5.{k}": v for k, v in _tagged(o).items()})
        else:
            vals["h5"] = f"unreadable: {_fail(rc, o, e)[:200]}"
    return vals, timing


def item_demo(r: Runner):
    args = ["{python}", "-m", "sintersim", "demo", "--out", "{tmp}/demo"]
    return args, *_run_case(r, args, "{tmp}/demo")


def item_two_particles(r: Runner):
    args = ["{python}", "-m", "sintersim", "run", "experiments/two_particles/config.toml"]
    args += ["--out", "{tmp}/two_particles", "--quiet"]
    return args, *_run_case(r, args, "{tmp}/two_particles")


MATERIALS = ("PbSe", "CdSe", "CdS", "CsPbBr3")


def _preset_table(text: str) -> dict:
    """``field  value  unit  source`` table of ``sintersim materials NAME``: the value column, by
    the header's column positions; ``D0=8.1e-05 m^2/s, Q=1.049 eV`` gives ``field.D0``,
    ``field.Q``."""
    lines = text.splitlines()
    head = next((ln for ln in lines if ln.startswith("field") and " value " in ln), None)
    if head is None:
        raise RuntimeError("no 'field value unit' header in the materials output")
    v0, u0 = head.index("value"), head.index("unit")
    vals: dict = {}
    for ln in lines[lines.index(head) + 1 :]:
        if not ln or ln[0] in " -=" or len(ln) <= v0:
            continue
        field, value = ln[:v0].strip(), ln[v0:u0].strip()
        if not re.fullmatch(r"\w+", field):
            continue
        pairs = re.findall(r"(\w+)=(" + NUM.pattern + ")", value)
        if pairs:
            vals.update({f"{field}.{k}": float(x) for k, x in pairs})
        elif re.fullmatch(NUM.pattern, value):
            vals[field] = float(value)
        else:
            vals[field] = value
    return vals


def item_materials(r: Runner):
    vals: dict = {}
    args0 = ["{python}", "-m", "sintersim", "materials"]
    rc, out, err, _ = r.run(args0, timeout=120)
    if rc != 0:
        raise RuntimeError(_fail(rc, out, err))
    names = [ln.split()[0] for ln in out.splitlines() if ln and not ln.startswith(("`", " "))]
    vals["presets"] = ",".join(names)
    for name in MATERIALS:
        rc, out, err, _ = r.run(args0 + [name], timeout=120)
        if rc != 0:
            vals[name] = f"failed: {_fail(rc, out, err)[:200]}"
            continue
        vals.update({f"{name}.{k}": v for k, v in _preset_table(out).items()})
    return args0 + ["[", *MATERIALS, "]"], vals, []


def item_neck_exponents(r: Runner):
    args = ["{python}", "scripts/neck_exponents.py", "--quick", "--out", "{tmp}/neck"]
    args += ["--json", "{tmp}/neck/neck.json"]
    rc, out, err, _ = r.run(args)
    if rc != 0:
        raise RuntimeError(_fail(rc, out, err))
    d = json.loads(Path(str(r.tmp / "neck" / "neck.json")).read_text())
    vals: dict = {}
    timing = []
    for mech, s in d["exponents"].items():
        p = f"n.{mech}"
        vals[f"{p}.n_fit"] = s["fit"]["n"]
        vals[f"{p}.classic_n"] = s["classic_n"]
        vals[f"{p}.window_kind"] = s["fit"]["window_kind"]
        vals[f"{p}.rms_residual"] = s["fit"]["rms_residual"]
        for k in ("steps", "x0_over_a", "x_end_over_a", "shrinkage", "centre_distance_change"):
            vals[f"{p}.{k}"] = s[k]
        vals[f"{p}.centre_density_end"] = s["centre_density_end"]
        for q, v in s["local_n"].items():
            vals[f"{p}.local_n@{q}"] = v
        vals[f"{p}.runtime_s"] = s["runtime_s"]
        timing.append(f"{p}.runtime_s")
    for mech, h in d["herring"].items():
        p = f"herring.{mech}"
        vals[f"{p}.m"] = h["m"]
        vals[f"{p}.span_m"] = h["span"]["m"]
        for q, t in h["targets"].items():
            vals[f"{p}.m@{q}"] = t["m"]
            for rad, tv in zip(h["radii"], t["t"], strict=True):
                vals[f"{p}.t({q})@R={rad:g}"] = tv
        for rad, nf in zip(h["radii"], h["n_fit"], strict=True):
            vals[f"{p}.n_fit@R={rad:g}"] = nf
    for k, v in d["criteria"].items():
        vals[f"criteria.{k}"] = bool(v)
    vals["total_runtime_s"] = d["total_runtime_s"]
    timing.append("total_runtime_s")
    return args, vals, timing


FIT_SNIPPET = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("fit_twin", "scripts/fit_twin.py")
mod = importlib.util.module_from_spec(spec)
sys.modules["fit_twin"] = mod
spec.loader.exec_module(mod)
got = {}
def _wrapped(fn):
    def _wrap(*a, **k):
        res = fn(*a, **k)
        got["res"] = res
        return res
    return _wrap
F = getattr(mod, "F", None)
if F is not None and callable(getattr(F, "fit", None)):
    F.fit = _wrapped(F.fit)
elif callable(getattr(mod, "fit", None)):
    mod.fit = _wrapped(mod.fit)
rc = mod.main()
sys.stdout.flush()
out = {"rc": rc}
if "res" in got:
    res = got["res"]
    out.update(res.to_json() if hasattr(res, "to_json") else {})
print("REGRESSION_JSON " + json.dumps(out, default=float))
"""


def item_fit_twin(r: Runner):
    args = _snippet(FIT_SNIPPET)
    rc, out, err, _ = r.run(args)
    if rc != 0:
        raise RuntimeError(_fail(rc, out, err))
    vals: dict = {}
    timing = []
    m = re.search(r"fit wall (\d+) s, evaluations (\d+), loss ([\d.]+), reduced chi2 ([\d.]+)", out)
    if m:
        vals["printed.evaluations"] = int(m.group(2))
        vals["printed.loss"] = float(m.group(3))
        vals["printed.chi2_reduced"] = float(m.group(4))
        vals["printed.fit_wall_s"] = float(m.group(1))
        timing.append("printed.fit_wall_s")
    for ln in out.splitlines():
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] not in ("parameter",) and not cells[0].startswith("---"):
            for h, c in zip(
                ("true", "start", "fitted", "stderr", "error_%"), cells[1:6], strict=True
            ):
                vals[f"printed.{cells[0]}.{h}"] = float(c.rstrip("%"))
    d = _tagged(out)
    for n, p in d.get("parameters", {}).items():
        vals[f"{n}.value"] = p["value"]
        vals[f"{n}.stderr"] = p["stderr"]
    for k in ("loss", "chi2_reduced", "n_data", "n_evaluations"):
        if k in d:
            vals[k] = d[k]
    if "correlation" in d and len(d["correlation"]) > 1:
        vals["correlation[0,1]"] = d["correlation"][0][1]
    if "loss_history" in d:
        vals["loss_history.len"] = len(d["loss_history"])
    if "warnings" in d:
        vals["warnings"] = "; ".join(d["warnings"])
    if "parameters" not in d:
        vals["note"] = "full-precision FitResult not captured; printed table only"
    # the wrapper runs fit_twin.main() unchanged and only keeps the FitResult it returns
    cmd = ["{python}", "scripts/fit_twin.py", "# via a -c wrapper that keeps the FitResult"]
    return cmd, vals, timing


def _results_table(text: str) -> dict:
    vals: dict = {}
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("| quantity |"))
    except StopIteration as e:
        raise RuntimeError("results.md has no table") from e
    m = re.search(r"Setting: \*\*(\w+)\*\* \(wall time (\d+) s", text)
    if m:
        vals["setting"] = m.group(1)
    seen: dict = {}
    for ln in lines[start + 2 :]:
        if not ln.startswith("| "):
            break
        cells = [c.strip() for c in ln.strip()[1:-1].split(" | ")]
        if len(cells) != 4:
            cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        q, sim, agree = cells[0], cells[2], cells[-1]
        seen[q] = seen.get(q, 0) + 1
        key = q if seen[q] == 1 else f"{q} #{seen[q]}"
        nums = NUM.findall(sim)
        for i, x in enumerate(nums):
            vals[f"{key} [{i}]"] = float(x)
        vals[f"{key} (text)"] = sim
        vals[f"{key} (agreement)"] = agree
    if m:
        vals["wall_s (results.md)"] = float(m.group(2))
    return vals


def item_seed(folder: str):
    def run(r: Runner):
        name = folder.split("_")[0]
        args = ["{python}", f"experiments/{folder}/run.py", "--smoke", "--out", f"{{tmp}}/{name}"]
        rc, out, err, _ = r.run(args)
        if rc != 0:
            raise RuntimeError(_fail(rc, out, err))
        res = r.tmp / name / "results.md"
        vals = _results_table(res.read_text())
        timing = [k for k in vals if k.startswith("wall_s")]
        return args, vals, timing

    return run


def item_bench(r: Runner):
    args = ["{python}", "scripts/bench.py", "--quick", "--no-peer", "--no-grad"]
    args += ["--json", "{tmp}/bench.json"]
    rc, out, err, _ = r.run(args)
    if rc != 0:
        raise RuntimeError(_fail(rc, out, err))
    d = json.loads((r.tmp / "bench.json").read_text())
    vals: dict = {}
    exact = []  # not timing: counts and flags
    for s in d.get("steps", []):
        tag = f"steps.{s.get('grid')}_P{s.get('fields')}_{s.get('dtype')}"
        for k in ("step_over_floor", "step_s", "floor_s", "steps_per_call"):
            if isinstance(s.get(k), (int, float)):
                vals[f"{tag}.{k}"] = s[k]
        for k, v in (s.get("fft_counts") or {}).items():
            vals[f"{tag}.fft_counts.{k}"] = v
            exact.append(f"{tag}.fft_counts.{k}")
        if "finite" in s:
            vals[f"{tag}.finite"] = bool(s["finite"])
            exact.append(f"{tag}.finite")
    sc = d.get("scaling") or {}
    for e in sc.get("vs_cells", []):
        tag = f"scaling.vs_cells.P{e.get('fields')}_{e.get('dtype')}_{e.get('ndim')}d"
        for k in ("exponent_step", "exponent_floor"):
            if isinstance(e.get(k), (int, float)):
                vals[f"{tag}.{k}"] = e[k]
    for e in sc.get("vs_fields", []):
        tag = f"scaling.vs_fields.{e.get('grid')}_{e.get('dtype')}"
        for k in ("step_ratio", "floor_ratio"):
            if isinstance(e.get(k), (int, float)):
                vals[f"{tag}.{k}"] = e[k]
    for sec, keys in (
        ("batch", ("speedup_vmap_states", "speedup_vmap_param")),
        ("pitfall", ("stacked_over_per_field",)),
    ):
        block = d.get(sec) or {}
        for k in keys:
            if isinstance(block.get(k), (int, float)):
                vals[f"{sec}.{k}"] = block[k]
    if not any(k.endswith("step_over_floor") for k in vals):
        raise RuntimeError("bench JSON had no step / floor ratios")
    vals["total_s"] = d.get("total_s")
    return args, vals, [k for k in vals if k not in exact]


ITEMS = {
    "demo": item_demo,
    "two_particles": item_two_particles,
    "materials": item_materials,
    "neck_exponents": item_neck_exponents,
    "fit_twin": item_fit_twin,
    "seed000": item_seed("seed000_pbse_rotation"),
    "seed001": item_seed("seed001_pbse_neck"),
    "seed002": item_seed("seed002_cdse_cds"),
    "seed003": item_seed("seed003_cdse_melting"),
    "seed004": item_seed("seed004_cspbbr3_stitching"),
    "bench": item_bench,
}


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


ENV_SNIPPET = """
import json, importlib.metadata as md, sys
out = {"python": sys.version.split()[0]}
for p in ("jax", "jaxlib", "numpy", "scipy", "equinox", "optax", "optimistix", "h5py"):
    try:
        out[p] = md.version(p)
    except Exception:
        out[p] = None
import sintersim
out["sintersim_file"] = sintersim.__file__
out["sintersim_version"] = getattr(sintersim, "__version__", None)
print("REGRESSION_JSON " + json.dumps(out))
"""


def measure(args) -> int:
    root = Path(args.root).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="regression_", dir=args.tmp))
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    r = Runner(root, args.python, tmp, args.timeout, log)
    t0 = time.perf_counter()
    rc, out, err, _ = r.run(_snippet(ENV_SNIPPET), timeout=120)
    env = _tagged(out) if rc == 0 else {"error": _fail(rc, out, err)}
    if rc == 0 and not str(Path(env["sintersim_file"]).resolve()).startswith(str(root)):
        print(f"sintersim imports from {env['sintersim_file']}, not from {root}", file=sys.stderr)
        return 2
    result = {
        "root": str(root),
        "git_head": _git(root, "rev-parse", "HEAD"),
        "git_dirty": bool(_git(root, "status", "--porcelain", "--untracked-files=no")),
        "host": platform.node(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "environment": env,
        "items": [],
        "skipped": dict(SKIPPED_STATIC),
    }
    names = [n for n in ITEMS if (not args.only or n in args.only) and n not in args.skip]
    for name in names:
        log(f"[{time.perf_counter() - t0:6.0f} s] {name} ...")
        t1 = time.perf_counter()
        entry: dict = {"name": name}
        try:
            cmd, vals, timing = ITEMS[name](r)
            entry.update(command=_cmd_text(cmd), values=vals, timing_keys=timing)
        except Exception as e:  # noqa: BLE001
            entry["skipped"] = f"{type(e).__name__}: {e}"
            result["skipped"][name] = entry["skipped"]
            log(f"    skipped: {entry['skipped'][:300]}")
        entry["wall_s"] = time.perf_counter() - t1
        result["items"].append(entry)
        log(f"    {len(entry.get('values', {}))} values, {entry['wall_s']:.0f} s")
    for name in ITEMS:
        if name not in names:
            result["skipped"][name] = "not selected (--only / --skip)"
    result["wall_s"] = time.perf_counter() - t0
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(to_markdown(result))
    if not args.keep_tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    bad = [k for k, v in flatten(result).items() if isinstance(v[0], float) and math.isnan(v[0])]
    log(
        f"wrote {out_path} ({len(flatten(result))} rows, {result['wall_s']:.0f} s); "
        f"NaN rows: {bad or 'none'}"
    )
    return 0


def _json_default(o):
    return str(o)


# ------------------------------------------------------------------------------------------------
# tables


def flatten(result: dict) -> dict[str, tuple[object, bool]]:
    """name -> (value, is_timing) over every measured item."""
    rows: dict = {}
    for it in result["items"]:
        if "values" not in it:
            continue
        tk = set(it.get("timing_keys", []))
        for k, v in it["values"].items():
            rows[f"{it['name']}.{k}"] = (v, k in tk)
        rows[f"{it['name']}.wall_s"] = (it["wall_s"], True)
    return rows


def _fmt(v) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.10g}"
    s = str(v).replace("|", "/").replace("\n", " ")
    return s if len(s) <= 120 else s[:117] + "..."


def to_markdown(result: dict) -> str:
    env = result.get("environment", {})
    lines = [
        "# Regression table",
        "",
        f"Root `{result['root']}` at `{result.get('git_head', '')[:12]}`"
        f"{' (dirty)' if result.get('git_dirty') else ''}, {result['started']}, "
        f"wall time {result['wall_s']:.0f} s.",
        "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()),
        "",
    ]
    for it in result["items"]:
        lines.append(f"## {it['name']}")
        lines.append("")
        if "skipped" in it:
            lines += [f"Skipped: {it['skipped']}", ""]
            continue
        lines += [
            f"`{it['command']}` ({it['wall_s']:.0f} s)",
            "",
            "| name | value | |",
            "|---|---|---|",
        ]
        tk = set(it.get("timing_keys", []))
        for k, v in it["values"].items():
            t = "timing" if k in tk else ""
            lines.append(f"| {k.replace('|', '/')} | {_fmt(v)} | {t} |")
        lines.append("")
    lines += ["## Skipped", ""] + [f"- {k}: {v}" for k, v in result["skipped"].items()]
    return "\n".join(lines) + "\n"


def _rel(a, b) -> float | None:
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    if a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    ):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def compare(before_path: str, after_path: str, rtol: float, md_out: str | None) -> int:
    before = json.loads(Path(before_path).read_text())
    after = json.loads(Path(after_path).read_text())
    fb, fa = flatten(before), flatten(after)
    names = list(fb) + [n for n in fa if n not in fb]
    rows, flagged, n_timing = [], 0, 0
    for n in names:
        (vb, tb), (va, ta) = fb.get(n, (None, False)), fa.get(n, (None, False))
        timing = tb or ta
        n_timing += timing
        if n not in fb or n not in fa:
            rel, flag = None, "missing " + ("after" if n not in fa else "before")
        else:
            rel = _rel(vb, va)
            if rel is None:
                flag = "" if vb == va else "DIFF"
            else:
                flag = "DIFF" if rel > rtol else ""
        if timing:
            flag = "(timing)" if not flag.startswith("missing") else flag + " (timing)"
        elif flag:
            flagged += 1
        rel_s = "" if rel is None else f"{rel:.3g}"
        rows.append(f"| {n.replace('|', '/')} | {_fmt(vb)} | {_fmt(va)} | {rel_s} | {flag} |")
    for label, res in (("before", before), ("after", after)):
        for k, v in res.get("skipped", {}).items():
            if k not in SKIPPED_STATIC:
                flagged += 1
                rows.append(f"| {k} ({label}) | skipped | {_fmt(v)} | | DIFF |")
    head = [
        f"# Regression comparison: {before_path} vs {after_path}",
        "",
        f"before: `{before['root']}` at `{before.get('git_head', '')[:12]}`, "
        f"after: `{after['root']}` at `{after.get('git_head', '')[:12]}`; "
        f"{len(names)} rows ({n_timing} timing), **{flagged} flagged** "
        f"(relative difference > {rtol:g}, text differs, or missing; timing rows never flagged).",
        "",
        "| name | before | after | rel. diff | flag |",
        "|---|---|---|---|---|",
    ]
    text = "\n".join(head + rows) + "\n"
    print(text)
    if md_out:
        Path(md_out).write_text(text)
    return 1 if flagged else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--root", help="checkout to measure (cwd and PYTHONPATH of every run)")
    ap.add_argument("--out", help="JSON file to write")
    ap.add_argument("--md", help="also write a markdown table here")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="compare two JSONs")
    ap.add_argument("--rtol", type=float, default=1e-6, help="relative difference flagged (1e-6)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the runs")
    ap.add_argument("--only", nargs="*", default=None, choices=list(ITEMS), help="run only these")
    ap.add_argument("--skip", nargs="*", default=[], choices=list(ITEMS), help="leave these out")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per command")
    ap.add_argument("--tmp", default=None, help="parent of the scratch folder (system temp)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the scratch folder")
    a = ap.parse_args(argv)
    if a.compare:
        return compare(a.compare[0], a.compare[1], a.rtol, a.md)
    if not a.root or not a.out:
        ap.error("--root and --out are required (or --compare BEFORE AFTER)")
    return measure(a)


if __name__ == "__main__":
    sys.exit(main())
