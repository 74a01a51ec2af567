"""Fuzz of the command line (issue 22): no input ends in a traceback.

Every input kind below is fed to ``sintersim.cli.main`` in-process: raw bytes as a config file,
TOML of random values and types, CSV traces for ``fit``, damaged run directories (``run.h5``
truncated, overwritten, missing groups, wrong shapes and types, ...) for ``info``, ``plot``,
``resume`` and ``repair``, and argument lists with bad numbers. Each call must return an
exit code in {0, 2, 3, 4} (`sintersim.cli.EXIT_CODES`); exit 1 ("internal error") and an
exception escaping ``main`` are failures, as is a "Traceback" in the output. An input that is
certainly invalid must give 2 (4 for a grid too large for the machine) with one line on stderr
starting with ``sintersim: `` (argparse's own usage errors, ``SystemExit(2)``, count as 2).

Failures are collected over all examples of a kind (not stopped at the first), de-duplicated by
exception type and place, and the kind's test fails listing each with its smallest input seen
(an exit-1 "internal error" is run again with SINTERSIM_DEBUG=1 to name the line that raised).
The readers of damaged run files run in a forked child with a time limit, so an HDF5 hang or
crash in C is reported as one ("hang", "crash") instead of stalling the suite. Bugs the fuzz found
are pinned as regression tests (`REGRESSIONS`, `test_fit_refuses_bad_option`).
`test_outcome_table` prints the table kind x outcome (also without ``-s``); with
FUZZ_CLI_REPORT=FILE it also writes the table and every failure to FILE.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime
import fnmatch
import io
import math
import os
import pickle
import resource
import select
import shutil
import signal
import time
import traceback
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sintersim.cli import main
from sintersim.materials._presets import MATERIALS
from sintersim.scenario._config import tomllib
from sintersim.scenario._schema import SCHEMA

DATA = Path(__file__).parent / "data" / "fuzz"
TINY = DATA / "tiny.toml"  # a valid 40 x 24 pair, 1 ms
TINY_TEXT = TINY.read_text()
OK = {0, 2, 3, 4}
CALL_TIMEOUT_S = 60  # a single command that takes longer is a failure (a hang on bad input)

# kind -> Counter of outcomes ("rc 0", "rc 2", ..., "FAIL"); kind -> examples; kind -> failures
OUTCOMES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
EXAMPLES: collections.Counter = collections.Counter()
FAILURES: dict[str, dict[tuple, dict]] = collections.defaultdict(dict)
SECONDS: collections.Counter = collections.Counter()
SLOWEST: dict[str, list] = collections.defaultdict(list)  # the two slowest calls per kind
KINDS = ("raw bytes", "toml", "csv trace", "damaged run", "argv")


# CI runs a fixed, derandomized sample; a deeper hunt: FUZZ_CLI_SCALE=5 FUZZ_CLI_RANDOM=1.
SCALE = float(os.environ.get("FUZZ_CLI_SCALE", "1"))


def _settings(n: int):
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        derandomize=not os.environ.get("FUZZ_CLI_RANDOM"),
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# ----------------------------------------------------------------------------------------------
# Calling main() and judging the outcome
# ----------------------------------------------------------------------------------------------
class _CallTimeout(BaseException):
    """Raised by SIGALRM inside a command that runs too long (not an Exception: main's own
    handler must not turn it into an exit code)."""


def _alarm(signum, frame):
    raise _CallTimeout()


def _where(tb) -> str:
    """The deepest frame of sintersim (and the deepest frame at all, if elsewhere)."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if "/sintersim/" in f.filename.replace(os.sep, "/")]
    text = ""
    if ours:
        f = ours[-1]
        text = f"{f.filename.split('/sintersim/', 1)[-1]}:{f.lineno} ({f.name})"
        text = "sintersim/" + text
    if frames and (not ours or frames[-1] is not ours[-1]):
        f = frames[-1]
        text += f" <- raised in {Path(f.filename).name}:{f.lineno} ({f.name})"
    return text or "?"


def _call(argv: list) -> tuple[object, str, str, tuple | None]:
    """(exit code, stdout, stderr, escaped exception as (type, where, message)) of ``main``."""
    out, err = io.StringIO(), io.StringIO()
    exc = None
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CALL_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in argv])
            except SystemExit as e:  # argparse: usage errors exit 2
                rc = ("SystemExit", e.code)
    except _CallTimeout:
        rc, exc = "timeout", ("timeout", f"took > {CALL_TIMEOUT_S} s", "")
    except BaseException as e:  # noqa: BLE001 - the fuzz's whole point
        text = str(e).splitlines()[0] if str(e) else ""
        rc, exc = "exception", (type(e).__name__, _where(e.__traceback__), text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return rc, out.getvalue(), err.getvalue(), exc


FORK_TIMEOUT_S = 10


def _call_forked(argv: list) -> tuple[object, str, str, tuple | None]:
    """`_call` in a forked child, killed after FORK_TIMEOUT_S: for the HDF5 readers, whose
    library can hang in C (SWMR metadata retries) or crash where no alarm reaches. Only for
    commands that run no JAX computation (the child has none of the parent's threads)."""
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX's "fork() is incompatible with threads"
        pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 0
        try:
            os.close(r)
            data = pickle.dumps(_call(argv))
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        except BaseException:  # noqa: BLE001
            code = 70
        os._exit(code)
    os.close(w)
    chunks, deadline = [], time.monotonic() + FORK_TIMEOUT_S
    with os.fdopen(r, "rb") as fh:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fh], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "timeout", "", "", ("hang", f"no answer in {FORK_TIMEOUT_S} s", "")
            chunk = os.read(fh.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if chunks and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return pickle.loads(b"".join(chunks))
    why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"status {status}"
    return "crash", "", "", ("crash", f"the process died ({why})", "")


def _debug_rerun(argv, forked: bool) -> str:
    """Where an exit-1 "internal error" comes from: the same command with SINTERSIM_DEBUG=1
    (which lets the exception through)."""
    os.environ["SINTERSIM_DEBUG"] = "1"
    try:
        _, _, _, exc = (_call_forked if forked else _call)(argv)
    finally:
        del os.environ["SINTERSIM_DEBUG"]
    if exc is None or exc[0] in ("timeout", "hang", "crash"):
        return "? (not raised again on a rerun)"
    return f"{exc[0]} at {exc[1]}"


def _run_dir_of(argv: list) -> Path | None:
    """The run directory that ``resume``/``repair`` would change (None for other commands)."""
    if len(argv) < 2 or str(argv[0]) not in ("resume", "repair"):
        return None
    d = Path(str(argv[1]))
    if not d.is_absolute() or not d.is_dir() or not (d / "run.h5").exists():
        return None
    return d


def check(
    kind: str,
    argv: list,
    given_input: object,
    *,
    must_refuse: bool = False,
    refuse_codes=(2,),
    allowed=OK,
    forked: bool = False,
) -> object:
    """Run ``main(argv)``, record the outcome under ``kind`` and any failure; the exit code
    ("hang" or "crash" for a forked call that did not come back)."""
    run_dir = _run_dir_of(argv)
    if run_dir is not None:  # resume and repair change the run: keep it for a rerun
        shutil.rmtree(f"{run_dir}.before", ignore_errors=True)
        shutil.copytree(run_dir, f"{run_dir}.before", symlinks=True)
    t0 = time.perf_counter()
    rc, out, err, exc = (_call_forked if forked else _call)(argv)
    took = time.perf_counter() - t0
    SECONDS[kind] += took
    call = " ".join(map(str, argv)) + f"  <- {_short_input(given_input)}"
    SLOWEST[kind] = sorted([*SLOWEST[kind], (took, call)])[-2:]
    problem = None
    sysexit = isinstance(rc, tuple)
    code = (rc[1] if isinstance(rc[1], int) else 2) if sysexit else rc
    if exc is not None:
        problem = exc
        code = exc[0] if exc[0] in ("hang", "crash") else "exception"
    elif code == 1 or code not in allowed:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        if code == 1 and "internal error" in err:
            if run_dir is not None:  # the run as it was before the failed command
                shutil.rmtree(run_dir, ignore_errors=True)
                shutil.copytree(f"{run_dir}.before", run_dir, symlinks=True)
            problem = ("exit 1 internal error", _debug_rerun(argv, forked), last)
        else:
            problem = (f"exit {code}", "", last)
    elif "Traceback" in out or "Traceback" in err:
        problem = ("traceback printed", f"exit {code}", err.strip()[-300:])
    elif must_refuse:
        lines = err.strip().splitlines()
        if code not in refuse_codes:
            problem = (
                f"exit {code} for certainly invalid input (expected {refuse_codes})",
                "",
                (lines[-1] if lines else out.strip()[-200:]),
            )
        elif not sysexit and (len(lines) != 1 or not lines[0].startswith("sintersim: ")):
            problem = (f"stderr not one 'sintersim: ' line (exit {code})", "", err.strip()[:300])
    if run_dir is not None:
        shutil.rmtree(f"{run_dir}.before", ignore_errors=True)
    if problem is None:
        OUTCOMES[kind][f"rc {code}"] += 1
        return code
    OUTCOMES[kind]["FAIL"] += 1
    if problem[0] in ("hang", "crash"):
        OUTCOMES[kind][problem[0]] += 1
    cmd = str(argv[0]) if argv else "-"
    key = (cmd, problem[0], problem[1])
    size = len(repr(given_input)) + len(" ".join(map(str, argv)))
    seen = FAILURES[kind].get(key)
    if seen is None or size < seen["size"]:
        FAILURES[kind][key] = {
            "size": size,
            "argv": [str(a) for a in argv],
            "input": given_input,
            "message": problem[2],
            "count": (seen["count"] if seen else 0) + 1,
        }
    else:
        seen["count"] += 1
    return code


def _short_input(given_input) -> str:
    text = repr(given_input)
    return text if len(text) <= 200 else text[:197] + "..."


def _report(kind: str, failures: dict | None = None) -> str:
    failures = FAILURES[kind] if failures is None else failures
    lines = [f"{len(failures)} distinct failure(s) of kind {kind!r}:"]
    for (cmd, what, where), f in failures.items():
        given_input = repr(f["input"])
        if len(given_input) > 600:
            given_input = given_input[:600] + "..."
        lines += [
            f"- {cmd}: {what} {where} [{f['count']}x]",
            f"    argv:    {' '.join(f['argv'])}",
            f"    message: {f['message'][:300]}",
            f"    input:   {given_input}",
        ]
    return "\n".join(lines)


def _new_failures(kind: str, before: dict) -> str | None:
    """The failures of ``kind`` recorded since ``before`` (key -> count), as `_report` text."""
    new = {k: f for k, f in FAILURES[kind].items() if f["count"] != before.get(k)}
    if not new:
        return None
    return _report(kind, new)


def snapshot(kind: str) -> dict:
    """The failures of ``kind`` so far (key -> count), for `assert_no_failures`."""
    return {k: f["count"] for k, f in FAILURES[kind].items()}


def assert_no_failures(kind: str, before: dict) -> None:
    """No failure of ``kind`` recorded since ``before`` (other tests add to the same kind)."""
    report = _new_failures(kind, before)
    assert report is None, report


# ----------------------------------------------------------------------------------------------
# 1. Raw bytes as a config file
# ----------------------------------------------------------------------------------------------
TINY_BYTES = TINY_TEXT.encode()


@st.composite
def raw_files(draw):
    how = draw(st.sampled_from(["bytes", "splice", "encoding", "text", "nul"]))
    if how == "bytes":
        return draw(st.binary(max_size=400))
    if how == "splice":  # the valid config with a random stretch replaced
        n = len(TINY_BYTES)
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, min(n, a + 40)))
        return TINY_BYTES[:a] + draw(st.binary(min_size=1, max_size=40)) + TINY_BYTES[b:]
    if how == "encoding":
        enc = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252", "utf-8-sig"]))
        text = TINY_TEXT.replace("PbSe", draw(st.sampled_from(["PbSé", "PbSe", "Pb\u00a0Se"])))
        try:
            return text.encode(enc)
        except UnicodeEncodeError:
            return text.encode("utf-16")
    if how == "nul":
        i = draw(st.integers(0, len(TINY_BYTES)))
        return TINY_BYTES[:i] + b"\x00" + TINY_BYTES[i:]
    return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")


def _toml_certainly_invalid(data: bytes) -> bool:
    """Not UTF-8, not TOML, or a section/key the schema does not have, or no end time."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a BOM: whether it is allowed is the code's choice
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    return _schema_certainly_invalid(raw)


def _schema_certainly_invalid(raw: dict) -> bool:
    for section, v in raw.items():
        if section not in SCHEMA or not isinstance(v, dict):
            return True
        if any(k not in SCHEMA[section] for k in v):
            return True
        if any(_has_datetime(x) for x in v.values()):
            return True  # no field takes a date or a time of day
    return not isinstance(raw.get("time", {}).get("end_s"), int | float)


def _has_datetime(v) -> bool:
    if isinstance(v, datetime.date | datetime.time):
        return True
    if isinstance(v, list):
        return any(_has_datetime(x) for x in v)
    if isinstance(v, dict):
        return any(_has_datetime(x) for x in v.values())
    return False


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzzcli")


def test_fuzz_raw_bytes_config(work):
    kind = "raw bytes"
    before = snapshot(kind)
    n = iter(range(10**9))

    @_settings(300)
    @given(raw_files())
    def fuzz(data):
        EXAMPLES[kind] += 1
        d = work / f"raw{next(n)}"
        d.mkdir()
        f = d / "case.toml"
        f.write_bytes(data)
        bad = _toml_certainly_invalid(data)
        rc = check(kind, ["config", "--check", f], data, must_refuse=bad)
        if rc == 2:  # refused by the check: `run` must refuse it too, before simulating
            check(kind, ["run", f, "--out", d / "out", "--quiet"], data, must_refuse=True)
            if (d / "out" / "run.h5").exists():
                check_failure(kind, "run made run.h5 from a refused config", data, ["run", f])
        shutil.rmtree(d)

    fuzz()
    # config files that are not regular files, or not there
    d = work / "rawspecial"
    (d / "adir.toml").mkdir(parents=True)
    for name in ("adir.toml", "missing.toml", ""):
        for argv in (["config", "--check", d / name], ["run", d / name, "--out", d / "o"]):
            EXAMPLES[kind] += 1
            check(kind, argv, name, must_refuse=True)
    assert_no_failures(kind, before)


def check_failure(kind, what, given_input, argv=()):
    """Record a failure found by a check of the test itself (outputs written, memory)."""
    OUTCOMES[kind]["FAIL"] += 1
    seen = FAILURES[kind].setdefault(
        (str(argv[0]) if argv else "-", what, ""),
        {
            "size": 0,
            "argv": [str(a) for a in argv],
            "input": given_input,
            "message": "",
            "count": 0,
        },
    )
    seen["count"] += 1


# ----------------------------------------------------------------------------------------------
# 2. TOML with random values and types
# ----------------------------------------------------------------------------------------------
def _basic_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(k: str) -> str:
    bare = k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k)
    return k if bare else _basic_string(k)


def _value(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _basic_string(v)
    if isinstance(v, datetime.date | datetime.time):
        return v.isoformat()
    if isinstance(v, list | tuple):
        items = [x for x in (_value(x) for x in v) if x is not None]
        return "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        pairs = ((_key(str(k)), _value(x)) for k, x in v.items())
        items = [f"{k} = {x}" for k, x in pairs if x is not None]
        return "{" + ", ".join(items) + "}"
    return _basic_string(str(v))


def to_toml(doc: dict) -> str:
    """A TOML document of ``doc`` (tables as [sections], deeper tables inline)."""
    head, body = [], []
    for k, v in doc.items():
        if isinstance(v, dict):
            body.append(f"[{_key(str(k))}]")
            for kk, vv in v.items():
                text = _value(vv)
                if text is not None:
                    body.append(f"{_key(str(kk))} = {text}")
        elif (text := _value(v)) is not None:
            head.append(f"{_key(str(k))} = {text}")
    return "\n".join(head + body) + "\n"


scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 10**30, 8, 4096, 4097]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 5e-324, float("nan"), float("inf")]),
    st.text(max_size=12),
    st.sampled_from(["", "pair", "PbSe", "float32", "log", "ramp", "a\nb", "\u202e", "é" * 50]),
    st.datetimes(timezones=st.none() | st.just(datetime.timezone.utc)),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
section_names = st.one_of(st.sampled_from(list(SCHEMA)), st.text(min_size=1, max_size=8))


@st.composite
def field_docs(draw):
    """Known sections and keys with values of any type (and sometimes unknown names)."""
    doc = {}
    for _ in range(draw(st.integers(0, 4))):
        section = draw(section_names)
        keys = list(SCHEMA.get(section, {})) or ["x"]
        table = doc.setdefault(section, {})
        for _ in range(draw(st.integers(0, 4))):
            key = draw(st.one_of(st.sampled_from(keys), st.sampled_from(keys), st.text(max_size=6)))
            table[key] = draw(values)
    if draw(st.booleans()):
        doc.setdefault("time", {})["end_s"] = draw(st.floats(1e-6, 1e-3) | values)
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.text(min_size=1, max_size=6))] = draw(values)  # a top-level non-table
    return doc


def _import_configs():
    """The strategy of tests/test_fuzz_config.py (configs near the schema's ranges)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_fuzz_config_for_cli", Path(__file__).with_name("test_fuzz_config.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.configs


configs = _import_configs()


@st.composite
def toml_texts(draw):
    doc = draw(st.one_of(configs(), configs(malformed=False), field_docs()))
    text = to_toml(doc)
    if draw(st.integers(0, 9)) == 0:  # a small syntax slip
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["=", "[", '"', "\n[x", "]]", ",", "\\"])) + text[i:]
    return text


RUNS_FROM_TOML = {"ran": 0}


def _tiny_enough(text: str) -> bool:
    raw = tomllib.loads(text)
    shape = raw.get("grid", {}).get("shape")
    t = raw.get("time", {})
    return (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(n, int) and n <= 32 for n in shape)
        and t.get("end_s", 1) <= 1e-3
        and set(raw) <= {"material", "model", "grid", "particles", "time", "noise", "output"}
        and raw.get("particles", {}).get("layout", "pair") == "pair"
    )


def test_fuzz_toml_values(work):
    kind = "toml"
    before = snapshot(kind)
    n = iter(range(10**9))

    @_settings(400)
    @given(toml_texts())
    def fuzz(text):
        EXAMPLES[kind] += 1
        d = work / f"toml{next(n)}"
        d.mkdir()
        f = d / "case.toml"
        f.write_text(text, encoding="utf-8")
        bad = _toml_certainly_invalid(text.encode("utf-8"))
        rc = check(kind, ["config", "--check", f], text, must_refuse=bad)
        if rc == 0 and RUNS_FROM_TOML["ran"] < 3 and _tiny_enough(text):
            RUNS_FROM_TOML["ran"] += 1
            argv = ["run", f, "--out", d / "out", "--quiet", "--stop-after", "1"]
            check(kind, argv, text)
        shutil.rmtree(d)

    fuzz()
    print(f"toml: {RUNS_FROM_TOML['ran']} accepted tiny configs were run")
    assert_no_failures(kind, before)


# ----------------------------------------------------------------------------------------------
# 3. CSV traces for `fit`
# ----------------------------------------------------------------------------------------------
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(0.01, 10).map(lambda x: f"{x:.4g}"),
    st.sampled_from(["", "nan", "inf", "-inf", "-1", "0", "1e308", "1e999", "abc", " 1 ", "1_0"]),
    st.text(max_size=5),
)
HEADERS = [
    "time_s,neck_nm",
    "time_s,neck_nm,sigma_nm",
    "time_s,neck_nm,sigma_nm,misorientation_deg,sigma_deg",
    "time,neck",
    "neck_nm",
    "time_s;neck_nm",
    "\ufefftime_s,neck_nm",
    "time_s,neck_nm,time_s",
    "Time_s,Neck_nm",
    "",
]


@st.composite
def trace_texts(draw):
    """(text or bytes, file kind) of a trace."""
    how = draw(st.sampled_from(["table", "table", "table", "bytes", "text"]))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    if how == "text":
        return "time_s,neck_nm\n" + draw(st.text(max_size=100))
    header = draw(st.one_of(st.sampled_from(HEADERS), st.text(max_size=20)))
    ncol = max(1, header.count(",") + 1)
    nrows = draw(st.integers(0, 6))
    rows = []
    t = 0.0
    for _ in range(nrows):
        k = draw(st.sampled_from([ncol, ncol, ncol, ncol - 1, ncol + 1, 1]))
        if draw(st.booleans()):  # a plausible row: increasing time, positive neck
            t += draw(st.floats(1e-4, 1e-2))
            row = [f"{t:.6g}", f"{draw(st.floats(0.5, 5)):.4g}"]
            row += [f"{draw(st.floats(0.01, 1)):.3g}" for _ in range(max(0, k - 2))]
            row = row[: max(k, 0)]
        else:
            row = [draw(cells) for _ in range(max(k, 0))]
        rows.append(",".join(row))
    if draw(st.integers(0, 5)) == 0:
        rows.insert(0, "# a comment")
    return "\n".join([header, *rows]) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))


def _trace_certainly_invalid(data) -> bool:
    """The rules of a trace (sintersim/fit/_traces.py's docstring), re-derived here."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return True
    lines = [ln for ln in data.splitlines() if ln.strip() and not ln.startswith("#")]
    try:
        rows = list(csv.DictReader(lines))
    except csv.Error:
        return True
    if not rows or not {"time_s", "neck_nm"} <= set(rows[0]):
        return not (lines and lines[0].startswith("\ufeff"))  # a BOM: the code's choice
    if "misorientation_deg" in rows[0]:
        return False  # its own rules; not judged here
    try:
        t = np.array([float(r["time_s"]) for r in rows])
        x = np.array([float(r["neck_nm"]) for r in rows])
        s = np.array([float(r["sigma_nm"]) if r.get("sigma_nm") else 0.1 for r in rows])
    except (TypeError, ValueError):
        return True
    if len(t) < 2 or not (np.isfinite(t).all() and np.isfinite(x).all() and np.isfinite(s).all()):
        return True
    return bool(np.any(np.diff(t) <= 0) or np.any(s <= 0))


P = "surface_diffusivity"
BAD_FIT_OPTIONS = [
    ["--params", "no_such_parameter"],
    ["--params", ""],
    ["--params", ",,"],
    ["--bounds", P],
    ["--bounds", f"{P}=1:2:3"],
    ["--bounds", f"{P}=a:b"],
    ["--bounds", f"{P}=nan:1"],
    ["--bounds", f"{P}=1e-10:nan"],
    ["--bounds", f"{P}=-1:1"],
    ["--bounds", f"{P}=1:1e-30"],
    ["--bounds", f"{P}=inf:inf"],
    ["--bounds", "=1:2"],
    ["--init", f"{P}=-1"],
    ["--init", f"{P}=nan"],
    ["--init", f"{P}=inf"],
    ["--init", f"{P}=abc"],
    ["--init", f"{P}=0"],
    ["--init", f"{P}"],
    ["--prior", f"{P}=1e-20"],
    ["--prior", f"{P}=1e-20:0"],
    ["--prior", f"{P}=1e-20:-1"],
    ["--prior", f"{P}=nan:1"],
    ["--prior", f"{P}=-1:1"],
    ["--prior", f"{P}=1e-20:nan"],
    ["--per-trace", "no_such_parameter"],
    ["--starts", "0"],
    ["--starts", "-3"],
    ["--lm-steps", "-1"],
    ["--adam-steps", "-1"],
    ["--starts", "x"],
    ["--max-steps", "0"],
    ["--max-steps", "1e9x"],
]


def test_fuzz_csv_traces(work):
    kind = "csv trace"
    before = snapshot(kind)
    n = iter(range(10**9))

    @_settings(250)
    @given(trace_texts(), st.sampled_from(BAD_FIT_OPTIONS), st.integers(0, 3))
    def fuzz(data, bad_option, coin):
        EXAMPLES[kind] += 1
        d = work / f"csv{next(n)}"
        d.mkdir()
        f = d / "trace.csv"
        if isinstance(data, bytes):
            f.write_bytes(data)
        else:
            f.write_text(data, encoding="utf-8")
        argv = ["fit", f, "--config", TINY, "--params", P, "--out", d / "out", "--quiet"]
        argv += ["--lm-steps", "1"]
        # a trace that might be valid is paired with a bad option (no fit is run); the others
        # sometimes too, to try both orders of checking
        if not _trace_certainly_invalid(data) or coin == 0:
            argv += bad_option
        check(kind, argv, data, must_refuse=True)
        if (d / "out" / "fit.json").exists():
            check_failure(kind, "fit wrote fit.json for refused input", data, argv)
        shutil.rmtree(d)

    fuzz()
    # traces that are not files, or not there; and two traces for one config each
    d = work / "csvspecial"
    (d / "adir.csv").mkdir(parents=True)
    (d / "bad.csv").write_text("time_s,neck_nm\n1,2\n")
    base = ["--config", TINY, "--params", P, "--out", d / "o", "--quiet"]
    for argv in (
        ["fit", d / "adir.csv", *base],
        ["fit", d / "missing.csv", *base],
        ["fit", d / "bad.csv", d / "bad.csv", "--config", TINY, *base],
        ["fit", d / "bad.csv", "--config", d / "missing.toml", "--params", P, "--out", d / "o"],
    ):
        EXAMPLES[kind] += 1
        check(kind, argv, "special", must_refuse=True)
    assert_no_failures(kind, before)


# ----------------------------------------------------------------------------------------------
# 4. Damaged run directories
# ----------------------------------------------------------------------------------------------
END_S = 1e-3  # tiny.toml's end time


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """One small real run (40 x 24 pair, 1 ms, 2 saves) and the objects of its run.h5."""
    d = tmp_path_factory.mktemp("goodrun") / "run"
    rc, out, err, exc = _call(["run", TINY, "--out", d, "--quiet"])
    assert exc is None and rc == 0, (rc, err, exc)
    datasets, groups, attrs = [], [], []
    with h5py.File(d / "run.h5", "r") as f:
        attrs += [("/", a) for a in f.attrs]

        def visit(name, obj):
            (datasets if isinstance(obj, h5py.Dataset) else groups).append(name)
            attrs.extend((name, a) for a in obj.attrs)

        f.visititems(visit)
    return {"dir": d, "datasets": datasets, "groups": groups, "attrs": attrs}


def _repair_known() -> bool:
    """Whether this version of the CLI has `sintersim repair` (issue 22 adds it)."""
    if "known" not in _REPAIR:
        rc, _, err, _ = _call(["repair", "/nonexistent-sintersim-dir"])
        _REPAIR["known"] = not (isinstance(rc, tuple) and "invalid choice" in err)
    return _REPAIR["known"]


_REPAIR: dict[str, bool] = {}

WRONG_DATA = [
    np.zeros(()),
    np.zeros((0,)),
    np.array([np.nan, np.nan, np.nan]),
    np.array([1e300, -1e300, 1e300]),
    np.array([-7.0, 0.0, 0.0]),
    np.array([2.5, 1.0, 3.0]),
    np.array([99.0, 1.0, 3.0]),
    np.array([1.0, -1.0, 3.0]),
    np.arange(7, dtype="i1"),
    np.ones((3, 5, 7), "f4"),
    np.ones((4, 48, 24), "f4"),
    np.ones((2, 40), "f8"),
    np.array([b"abc", b"\xff\xfe"]),
    np.array([1 + 2j, 3j]),
    np.array([True, False, True]),
    np.frombuffer(b"{not json", np.uint8),
    np.frombuffer(b'{"next_id": "x", "grains": 5}', np.uint8),
    np.frombuffer(b"\xff\xfe\xfa", np.uint8),
]
WRONG_ATTRS = [
    5,
    np.nan,
    -1.0,
    0.0,
    1e300,
    "",
    "garbage",
    "[grid]\nshape = [",
    "[nosuch]\nx = 1",
    np.bytes_(b"\xff\xfe"),
    np.array([1, 2, 3]),
    "time_s,no_such_column",
    "time_s,,",
    # a valid config that disagrees with the stored fields (another grid, another layout)
    TINY_TEXT.replace("[40, 24]", "[48, 24]"),
    TINY_TEXT.replace("[40, 24]", "[40, 24, 24]"),
    TINY_TEXT + "\n[orientation]\nenabled = true\n",
]

_DAMAGES = {
    "truncate": st.tuples(st.just("truncate"), st.floats(0, 1)),
    "overwrite": st.tuples(
        st.just("overwrite"),
        st.floats(0, 1),
        st.integers(1, 64),
        st.sampled_from(["random", "zeros", "ff"]),
        st.binary(min_size=64, max_size=64),
    ),
    "delete object": st.tuples(st.just("delete object"), st.integers(0, 10**6)),
    "wrong dataset": st.tuples(
        st.just("wrong dataset"), st.integers(0, 10**6), st.sampled_from(range(len(WRONG_DATA)))
    ),
    "delete attr": st.tuples(st.just("delete attr"), st.integers(0, 10**6)),
    "wrong attr": st.tuples(
        st.just("wrong attr"), st.integers(0, 10**6), st.sampled_from(range(len(WRONG_ATTRS)))
    ),
    "checkpoint info": st.tuples(
        st.just("checkpoint info"),
        st.sampled_from([-1.0, 0.0, 1.0, 2.0, 3.0, 5.0, 1e18, np.nan, -2.0, 0.5]),
        st.sampled_from([0.0, 1.0, 1e300, np.nan, -1.0]),
    ),
    "replace file": st.tuples(
        st.just("replace file"),
        st.sampled_from(["empty", "random", "directory", "missing", "text"]),
        st.binary(max_size=300),
    ),
    "companion": st.tuples(
        st.just("companion"),
        st.sampled_from(["mapping.json", "observables.csv", "grains.csv", "run.xmf"]),
        st.sampled_from(["delete", "garbage", "directory", "empty"]),
        st.binary(max_size=100),
    ),
}
# Damages inside the file's structure (which readers must check one by one) are drawn most
# often; a file destroyed as a whole is refused at the door.
_WEIGHTS = (
    ["wrong attr"] * 4
    + ["wrong dataset"] * 3
    + ["delete object", "delete attr"] * 2
    + ["checkpoint info", "truncate", "overwrite", "replace file", "companion"]
)
damages = st.sampled_from(_WEIGHTS).flatmap(_DAMAGES.__getitem__)


def _pick(items, i):
    return items[i % len(items)] if items else None


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _damage(d: Path, op: tuple, run: dict) -> str:
    """Apply one damage to the run directory ``d``; what was done, in words (a reproducer).
    Nothing is done where the damage no longer applies (a file already unreadable to h5py)."""
    h5 = d / "run.h5"
    what = op[0]
    try:
        if what == "truncate":
            size = h5.stat().st_size
            with open(h5, "r+b") as fh:
                fh.truncate(int(size * op[1]))
            return f"truncate run.h5 to {int(size * op[1])} of {size} bytes"
        if what == "overwrite":
            size = h5.stat().st_size
            n = op[2]
            data = {"random": op[4][:n], "zeros": b"\0" * n, "ff": b"\xff" * n}[op[3]]
            at = int(max(0, size - n) * op[1])
            with open(h5, "r+b") as fh:
                fh.seek(at)
                fh.write(data)
            return f"overwrite run.h5 bytes {at}..{at + len(data)} with {_short(data)}"
        if what in ("delete object", "wrong dataset"):
            names = run["datasets"] + run["groups"] if what == "delete object" else run["datasets"]
            name = _pick(names, op[1])
            with h5py.File(h5, "a") as f:
                if name not in f:
                    return f"({what} {name}: not there)"
                del f[name]
                if what == "delete object":
                    return f"delete {name}"
                data = WRONG_DATA[op[2]]
                f.create_dataset(name, data=data)
                return f"replace dataset {name} by {_short(data)}"
        if what in ("delete attr", "wrong attr"):
            obj, attr = _pick(run["attrs"], op[1])
            with h5py.File(h5, "a") as f:
                if obj not in f or attr not in f[obj].attrs:
                    return f"({what} {obj}@{attr}: not there)"
                if what == "delete attr":
                    del f[obj].attrs[attr]
                    return f"delete attribute {obj}@{attr}"
                f[obj].attrs[attr] = WRONG_ATTRS[op[2]]
                return f"set attribute {obj}@{attr} = {_short(WRONG_ATTRS[op[2]])}"
        if what == "checkpoint info":
            with h5py.File(h5, "a") as f:
                if "checkpoint/info" not in f:
                    return "(checkpoint/info: not there)"
                f["checkpoint/info"][:2] = [op[1], op[2]]
                return f"checkpoint/info[:2] = [{op[1]}, {op[2]}]"
        if what == "replace file":
            if h5.is_dir():
                shutil.rmtree(h5)
            else:
                h5.unlink(missing_ok=True)
            if op[1] == "empty":
                h5.write_bytes(b"")
            elif op[1] == "random":
                h5.write_bytes(op[2])
            elif op[1] == "text":
                h5.write_text("this is not HDF5\n")
            elif op[1] == "directory":
                h5.mkdir()
            return f"run.h5 replaced: {op[1]}" + (f" {_short(op[2])}" if op[1] == "random" else "")
        if what == "companion":
            p = d / op[1]
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
            if op[2] == "garbage":
                p.write_bytes(op[3])
            elif op[2] == "directory":
                p.mkdir()
            elif op[2] == "empty":
                p.write_bytes(b"")
            return f"{op[1]}: {op[2]}" + (f" {_short(op[3])}" if op[2] == "garbage" else "")
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        return f"({what}: not applied, {type(e).__name__})"
    raise AssertionError(what)


def _unreadable(ops) -> bool:
    """The damages leave no run.h5 any reader could make sense of."""
    last = [op for op in ops if op[0] == "replace file"]
    return (
        bool(last)
        and last[-1] is ops[-1]
        or any(op[0] == "truncate" and op[1] < 0.05 for op in ops)
    )


@st.composite
def damage_plans(draw):
    ops = draw(st.lists(damages, min_size=1, max_size=3))
    commands = ["info"]  # and repair, where it exists; plot and resume are slower (figures, JAX)
    if draw(st.integers(0, 4)) == 0:
        commands.append("plot")
    if draw(st.integers(0, 2)) == 0:
        commands.append("resume")
    end = draw(st.sampled_from([1.2e-3, 1.05e-3, 5e-4, None]))
    return ops, commands, end


def test_fuzz_damaged_run_dirs(work, good_run):
    kind = "damaged run"
    before = snapshot(kind)
    n = iter(range(10**9))
    repair = _repair_known()
    if not repair:
        print("SKIPPED PART: `sintersim repair` is not a command yet; repair is not fuzzed")

    @_settings(60)
    @given(damage_plans())
    def fuzz(plan):
        ops, commands, end = plan
        EXAMPLES[kind] += 1
        d = work / f"h5_{next(n)}"
        shutil.copytree(good_run["dir"], d)
        done = [_damage(d, op, good_run) for op in ops]
        dead = _unreadable(ops)
        # The readers run in a forked child with a time limit (HDF5 can hang or crash in C);
        # resume, which runs JAX, runs here, and only after they came back.
        # After a hang the other readers are not tried on the same file (each would hang too).
        came_back = True
        for cmd in commands + (["repair"] if repair else []):
            if not came_back:
                break
            argv = [cmd, d]
            if cmd == "resume":
                argv += ["--quiet"] + ([] if end is None else ["--end-s", end])
            rc = check(kind, argv, done, must_refuse=dead, forked=cmd != "resume")
            came_back = rc not in ("hang", "crash")
            if cmd == "repair" and rc == 0:  # repaired: a reader must read it, or say why
                check(kind, ["info", d], done, forked=True)
        shutil.rmtree(d, ignore_errors=True)

    fuzz()
    # the run directory itself missing, a file, or empty
    f = work / "afile"
    f.write_text("x")
    (work / "emptydir").mkdir()
    for cmd in ["info", "plot", "resume"] + (["repair"] if repair else []):
        for target in (work / "missing-dir", f, work / "emptydir"):
            EXAMPLES[kind] += 1
            check(kind, [cmd, target], str(target), must_refuse=True, forked=cmd != "resume")
    assert_no_failures(kind, before)


# Damages the fuzz found (issue 22), each pinned with the commands it broke: a sample of 60
# random plans does not hit every one of them in every version of the strategies.
_JSON = np.frombuffer(b'{"next_id": "x", "grains": 5}', np.uint8)
REGRESSIONS = {
    "controller scalar": ([("dataset", "checkpoint/controller*", np.zeros(()))], ["resume"]),
    "controller nan": ([("dataset", "checkpoint/controller*", np.full(3, np.nan))], ["resume"]),
    "controller bytes": ([("dataset", "checkpoint/controller*", _JSON)], ["resume"]),
    "observable not chunked": (
        [("dataset", "observables/grain1_volume_nm2", np.array([1.0, 2.0, 3.0]))],
        ["resume"],
    ),
    "grain ids 1-D": (
        [("dataset", "fields/grain_id", np.array([1.0, -1.0, 3.0]))],
        ["plot", "resume", "repair"],
    ),
    "grains columns": ([("attr", "grains", "columns", "a,b")], ["info", "resume", "repair"]),
    "observables columns int": ([("attr", "observables", "columns", 5)], ["info", "repair"]),
    "no complete frame": ([("checkpoint index", -1.0)], ["info", "plot", "resume", "repair"]),
    "observable 2-D": (
        [("dataset", "observables/free_energy_J", np.ones((3, 3)))],
        ["info", "plot", "resume", "repair"],
    ),
    "dx_nm array": ([("attr", "/", "dx_nm", np.array([1, 2, 3]))], ["info", "plot", "repair"]),
    "dx_nm text": ([("attr", "/", "dx_nm", "garbage")], ["info", "plot", "repair"]),
    "length_m text": ([("attr", "/", "length_m", "garbage")], ["info"]),
    "energy_J_m3 text": ([("attr", "/", "energy_J_m3", "garbage")], ["info"]),
    "time_s text": ([("attr", "/", "time_s", "garbage")], ["info", "resume"]),
    "dt_internal text": ([("attr", "/", "dt_internal", "garbage")], ["info", "resume"]),
    "dt_internal 0": ([("attr", "/", "dt_internal", 0.0)], ["resume"]),
    "dt_internal nan": ([("attr", "/", "dt_internal", np.nan)], ["resume"]),
    # a truncated file: HDF5's SWMR reader retried a bad checksum for ever (a hang)
    "truncated": ([("truncate", 0.2275)], ["info", "plot", "resume"]),
    # found by FUZZ_CLI_SCALE=4 FUZZ_CLI_RANDOM=1 after the fixes above
    "config not UTF-8": (
        [("attr", "/", "config", np.bytes_(b"\xff\xfe"))],
        ["info", "plot", "resume", "repair"],
    ),
    "dx_nm integer": ([("attr", "/", "dx_nm", 5)], ["info", "plot", "repair"]),
    "other slot 0-D": ([("dataset", "checkpoint/rho", np.array(0.0))], ["resume", "repair"]),
    "particles int": (
        [("dataset", "particles/orientations", np.arange(7, dtype=np.int8))],
        ["info", "resume"],
    ),
}


def _pinned_damage(d: Path, op: tuple, run: dict) -> str:
    h5 = d / "run.h5"
    if op[0] == "truncate":
        return _damage(d, op, run)
    with h5py.File(h5, "a") as f:
        if op[0] == "dataset":
            names = [n for n in run["datasets"] if fnmatch.fnmatch(n, op[1])]
            for name in names:
                del f[name]
                f.create_dataset(name, data=op[2])
            return f"replace dataset {names} by {_short(op[2])}"
        if op[0] == "delete":
            del f[op[1]]
            return f"delete {op[1]}"
        if op[0] == "attr":
            f[op[1]].attrs[op[2]] = op[3]
            return f"set attribute {op[1]}@{op[2]} = {op[3]!r}"
        f["checkpoint/info"][0] = op[1]
        return f"checkpoint/info[0] = {op[1]}"


@pytest.mark.parametrize("case", list(REGRESSIONS))
def test_damaged_run_regressions(work, good_run, case):
    kind = "damaged run"
    ops, commands = REGRESSIONS[case]
    if "repair" in commands and not _repair_known():
        commands = [c for c in commands if c != "repair"]
    before = snapshot(kind)
    for cmd in commands:
        EXAMPLES[kind] += 1
        d = work / f"pinned_{case.replace(' ', '_')}_{cmd}"
        shutil.copytree(good_run["dir"], d)
        done = [_pinned_damage(d, op, good_run) for op in ops]
        argv = [cmd, d] + (["--quiet", "--end-s", END_S * 1.2] if cmd == "resume" else [])
        check(kind, argv, done, forked=cmd != "resume")
        shutil.rmtree(d, ignore_errors=True)
    assert _new_failures(kind, before) is None, _new_failures(kind, before)


# ----------------------------------------------------------------------------------------------
# 5. Argument lists with bad numbers
# ----------------------------------------------------------------------------------------------
BAD_SETS = [
    "grid.shape=[1e9,1e9,1e9]",
    "grid.shape=[100000,100000,100000]",
    "grid.shape=[4096,4096,4096]",
    "grid.shape=[0,0]",
    "grid.shape=[]",
    "grid.shape=[8]",
    "grid.shape=[40,24,24,24]",
    "grid.shape=-1",
    "grid.shape=[40.5,24]",
    "grid.shape=[true,false]",
    "grid.spacing_nm=nan",
    "grid.spacing_nm=-0.5",
    "grid.spacing_nm=0",
    "grid.dtype=float16",
    "time.end_s=nan",
    "time.end_s=-1",
    "time.end_s=0",
    "time.end_s=inf",
    "time.end_s=-inf",
    "time.end_s=",
    "time.end_s=[1]",
    "time.n_saves=-1",
    "time.n_saves=0",
    "time.n_saves=1e30",
    "time.n_saves=10000000000000000000000",
    "time.dt_s=-1",
    "time.dt_s=nan",
    "material.temperature_K=nan",
    "material.temperature_K=-5",
    "material.temperature_K=1e9",
    "material.preset=unobtainium",
    'material.preset="Pb\\nSe"',
    "particles.radius_nm=1e6",
    "particles.layout=nowhere",
    "foo",
    "foo=1",
    "grid.",
    ".shape=[8,8]",
    "=",
    "nosuch.key=1",
    "grid.nosuch=1",
    "grid.shape",
]
BAD_PARAMS = [
    "x=",
    "material.temperature_K=",
    "material.temperature_K=nan,400",
    "material.temperature_K=abc",
    "nosuch.key=1,2",
    "grid.shape=[1e9,1e9]",
    "time.end_s=-1,1",
    "=1,2",
    "foo",
]
BAD_NUMBERS = ["nan", "-1", "0", "-inf", "inf", "abc", "", "1e-30", "1e300", "-0"]


@st.composite
def bad_argvs(draw, run_dir: Path, out: Path):
    """(argv, exit codes allowed): each argv has at least one certainly bad element."""
    cmd = draw(
        st.sampled_from(
            ["run", "sweep", "resume", "fit", "dirs", "materials", "config", "argparse", "demo"]
        )
    )
    sets = []
    for s in draw(st.lists(st.sampled_from(BAD_SETS), min_size=1, max_size=3)):
        sets += ["--set", s]
    if cmd == "run":
        return ["run", TINY, "--out", out, "--quiet", *sets], (2, 4)
    if cmd == "sweep":
        params = []
        for p in draw(st.lists(st.sampled_from(BAD_PARAMS), min_size=1, max_size=2)):
            params += ["--param", p]
        extra = draw(st.sampled_from([[], sets]))
        return ["sweep", TINY, "--out", out, "--quiet", *params, *extra], (2, 4)
    if cmd == "resume":
        end = draw(st.sampled_from(BAD_NUMBERS + [None]))
        dt = draw(st.sampled_from(BAD_NUMBERS + [None]))
        if end is None and dt is None or end in ("1e300",) and dt is None:
            dt = "-1"
        if dt in ("1e-30",) and end is None:
            end = "-1"  # a tiny fixed step alone would be a (very long) valid resume
        if end == "1e300":
            end = "nan"  # a valid, very long resume
        argv = ["resume", run_dir, "--quiet"]
        argv += [] if end is None else [f"--end-s={end}"]
        argv += [] if dt is None else [f"--dt-s={dt}"]
        return argv, (2,)
    if cmd == "fit":
        trace = DATA / "trace.csv"
        bad = draw(
            st.sampled_from(BAD_FIT_OPTIONS + [["--sigma-nm", x] for x in ("nan", "-1", "0")])
        )
        argv = ["fit", trace, "--config", TINY, "--params", P, "--out", out, "--quiet"]
        return argv + ["--lm-steps", "1", *bad], (2,)
    if cmd == "dirs":
        sub = draw(st.sampled_from(["info", "plot", "repair", "resume"]))
        target = draw(st.sampled_from([out / "nowhere", TINY, out.parent / "emptydir", "", "\x01"]))
        return [sub, target], (2,)
    if cmd == "materials":
        name = draw(
            st.text(min_size=1, max_size=10).filter(lambda s: s.strip().lower() not in _PRESETS)
        )
        return ["materials", name], (2,)
    if cmd == "config":
        target = draw(st.sampled_from([out / "none.toml", out.parent, ""]))
        return ["config", "--check", target], (2,)
    if cmd == "demo":  # an --out that cannot be a directory: refused before any simulation
        return ["demo", "--quiet", "--out", TINY / "sub"], (2,)
    argv = draw(
        st.sampled_from(
            [
                [],
                ["nosuchcommand"],
                ["run"],
                ["run", TINY],
                ["run", TINY, "--out"],
                ["run", TINY, "--out", out, "--bogus"],
                ["resume", run_dir, "--end-s", "abc"],
                ["resume", run_dir, "--dt-s"],
                ["sweep", TINY, "--out", out, "--mode", "bogus"],
                ["fit", "--params", P],
                ["fit", TINY, "--config", TINY, "--params", P, "--out", out, "--starts", "1.5"],
                ["info"],
                ["info", run_dir, run_dir],
                ["config", "--check"],
                ["--set", "time.end_s=1"],
            ]
        )
    )
    return [*argv, *draw(st.lists(st.sampled_from(["--quiet", "--", "-x"]), max_size=1))], (2,)


_PRESETS = {m.lower() for m in MATERIALS}


def _vm_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def test_fuzz_argv(work, good_run):
    kind = "argv"
    before = snapshot(kind)
    n = iter(range(10**9))
    (work / "emptydir").mkdir(exist_ok=True)
    (DATA / "trace.csv").stat()  # a valid trace (no sigma column), for the fit options
    # A bug that allocates a huge grid must fail fast here, not swap the machine to death.
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_bytes() + 8 * 2**30
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:

        @_settings(200)
        @given(st.data())
        def fuzz(data):
            i = next(n)
            run_dir = work / f"argv_run{i}"
            out = work / f"argv_out{i}"
            argv, codes = data.draw(bad_argvs(run_dir, out))
            EXAMPLES[kind] += 1
            shutil.copytree(good_run["dir"], run_dir)
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            check(kind, argv, argv, must_refuse=True, refuse_codes=codes)
            grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 2**20
            if grew > 2:  # ru_maxrss is in KiB: > 2 GiB more than ever before
                check_failure(kind, f"refused input allocated {grew:.1f} GiB", argv, argv)
            if (out / "run.h5").exists() or (out / "fit.json").exists():
                check_failure(kind, "refused input wrote outputs", argv, argv)
            shutil.rmtree(run_dir, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)

        fuzz()
        # a grid too large for any machine, alone: the memory estimate refuses it (exit 4)
        # before anything is allocated; a shape beyond the schema's range is bad input (2)
        for shape, codes in (
            ("[4096,4096,4096]", (4,)),
            ("[4000,4000,2048]", (4,)),
            ("[100000,100000,100000]", (2, 4)),
            ("[1e9,1e9,1e9]", (2, 4)),
        ):
            EXAMPLES[kind] += 1
            out = work / "argv_big"
            argv = ["run", TINY, "--out", out, "--quiet", "--set", f"grid.shape={shape}"]
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            check(kind, argv, argv, must_refuse=True, refuse_codes=codes)
            grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 2**20
            if grew > 2:
                check_failure(kind, f"refused input allocated {grew:.1f} GiB", argv, argv)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert_no_failures(kind, before)


@pytest.mark.parametrize(
    "option",
    BAD_FIT_OPTIONS + [["--sigma-nm", x] for x in ("nan", "-1", "0")],
    ids=lambda o: " ".join(o),
)
def test_fit_refuses_bad_option(work, option):
    """Every bad fit option with a valid trace: refused before any fitting (exit 2)."""
    kind = "argv"
    EXAMPLES[kind] += 1
    out = work / "fit_option"
    argv = ["fit", DATA / "trace.csv", "--config", TINY, "--params", P, "--out", out, "--quiet"]
    argv += ["--lm-steps", "1", *option]
    failed = OUTCOMES[kind]["FAIL"]
    before = snapshot(kind)
    rc = check(kind, argv, option, must_refuse=True)
    wrote = (out / "fit.json").exists()
    shutil.rmtree(out, ignore_errors=True)
    assert OUTCOMES[kind]["FAIL"] == failed and not wrote, f"exit {rc}: " + str(
        _new_failures(kind, before)
    )


# ----------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------
def test_outcome_table(capsys):
    """Kind x outcome over this session (printed also without -s); at least 1,000 examples
    when every kind ran. FAIL counts every failed call; hang and crash are those of them that
    never came back (a reader killed after FORK_TIMEOUT_S, or died of a signal)."""
    cols = ["rc 0", "rc 2", "rc 3", "rc 4", "FAIL", "hang", "crash"]
    lines = [f"{'kind':<12} {'examples':>8} " + " ".join(f"{c:>6}" for c in cols) + "   seconds"]
    for k in KINDS:
        row = OUTCOMES[k]
        lines.append(
            f"{k:<12} {EXAMPLES[k]:>8} "
            + " ".join(f"{row[c]:>6}" for c in cols)
            + f"   {SECONDS[k]:7.1f}"
        )
    total = sum(EXAMPLES.values())
    lines.append(
        f"{'total':<12} {total:>8} "
        + " ".join(f"{sum(OUTCOMES[k][c] for k in KINDS):>6}" for c in cols)
    )
    lines.append("slowest calls:")
    for k in KINDS:
        lines += [f"  {k}: {t:.1f} s  {call[-300:]}" for t, call in SLOWEST[k][::-1]]
    text = "CLI fuzz (issue 22): kind x outcome (calls of main)\n" + "\n".join(lines)
    with capsys.disabled():
        print("\n\n" + text)
    if os.environ.get("FUZZ_CLI_REPORT"):  # the table and every failure, for a bug report
        failures = [_report(k) for k in KINDS if FAILURES[k]]
        Path(os.environ["FUZZ_CLI_REPORT"]).write_text("\n\n".join([text, *failures]) + "\n")
    if all(EXAMPLES[k] for k in KINDS):
        assert total >= 1000, total
