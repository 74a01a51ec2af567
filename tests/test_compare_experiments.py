"""scripts/compare_experiments.py (issue 22): the comparison of regenerated experiment tables with
the committed ones catches a changed number or word and lets round-off through. Fast: it compares
JSON files, no simulation."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "compare_experiments", ROOT / "scripts" / "compare_experiments.py"
)
cmp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmp)

SUMMARY = {
    "setting": "reduced",
    "tables": {
        "results": {
            "columns": ["quantity", "seed value", "simulated value", "agreement"],
            "rows": [
                ["time to stitching, min", "2-5", "3.70", "yes (in 2-5 min)"],
                ["domains / largest, dots", "6", "10.0 / 4", "no (a single crystal of >= 6)"],
                ["mass drift", "-", "1.1e-06 (relative)", "yes (1.1e-06; allowed <= 0.0001)"],
            ],
        }
    },
    "notes": ["Calibration passes (m_r, m^3/(J s)): 5.0896e-12, 5.0821e-12."],
}


def tree(tmp_path: Path, name: str, data: dict, sub: str = "out") -> Path:
    """committed: ROOT/seed_x/out/summary.json; fresh (sub=""): ROOT/seed_x/summary.json."""
    folder = tmp_path / name / "seed_x" / sub
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(data))
    return tmp_path / name


def run(tmp_path, fresh: dict, capsys) -> tuple[int, str]:
    committed = tree(tmp_path, "committed", SUMMARY)
    fresh_root = tree(tmp_path, "fresh", fresh, sub="")
    rc = cmp.main(["--committed", str(committed), "--fresh", str(fresh_root)])
    return rc, capsys.readouterr().out


def doctored(row: int, col: int, text: str) -> dict:
    d = copy.deepcopy(SUMMARY)
    d["tables"]["results"]["rows"][row][col] = text
    return d


def test_identical_copy_passes(tmp_path, capsys):
    rc, out = run(tmp_path, copy.deepcopy(SUMMARY), capsys)
    assert rc == 0, out
    assert "1 match" in out


# within 2 % + one printed unit (0.01) of 3.70
@pytest.mark.parametrize("text", ["3.71", "3.69", "3.77"])
def test_round_off_passes(tmp_path, capsys, text):
    rc, out = run(tmp_path, doctored(0, 2, text), capsys)
    assert rc == 0, out


@pytest.mark.parametrize(
    "row, col, text, expect",
    [
        (0, 2, "3.85", "3.70 -> 3.85"),  # a changed number (+4 %)
        (1, 2, "10.0 / 5", "4 -> 5"),  # a changed count
        (0, 3, "no (+3% outside 2-5 min)", "text differs"),  # a flipped verdict
        (1, 2, "not reached", "text differs"),  # a number that went missing
        (2, 2, "3.0e-05 (relative)", "1.1e-06 -> 3.0e-05"),  # round-off-sized: absolute tolerance
    ],
)
def test_changed_number_or_word_fails(tmp_path, capsys, row, col, text, expect):
    rc, out = run(tmp_path, doctored(row, col, text), capsys)
    assert rc == 1, out
    assert expect in out
    # the readable diff names the file, the row and both texts
    assert "seed_x/summary.json:results:" in out
    assert SUMMARY["tables"]["results"]["rows"][row][0] in out


def test_changed_note_row_count_and_missing_file_fail(tmp_path, capsys):
    d = copy.deepcopy(SUMMARY)
    d["notes"][0] = d["notes"][0].replace("5.0821e-12", "5.5e-12")
    rc, out = run(tmp_path, d, capsys)
    assert rc == 1 and "notes" in out and "5.0821e-12 -> 5.5e-12" in out

    d = copy.deepcopy(SUMMARY)
    del d["tables"]["results"]["rows"][-1]
    rc, out = run(tmp_path / "b", d, capsys)
    assert rc == 1 and "3 rows committed, 2 fresh" in out

    committed = tree(tmp_path / "c", "committed", SUMMARY)
    rc = cmp.main(["--committed", str(committed), "--fresh", str(tmp_path / "c" / "nothing")])
    assert rc == 1 and "no fresh file" in capsys.readouterr().out


def test_numbers_inside_words_are_text():
    # digits inside hex seed names, exponents of units and ranges are not signed numbers
    assert cmp.NUM.findall("shared/seeds/000_244a45a9.txt") == ["000"]
    assert cmp.NUM.findall("m^3/(J s)") == []
    assert cmp.NUM.findall("2-5 min, -7 C, +25%, 1e-12") == ["2", "5", "-7", "+25", "1e-12"]
    assert cmp.unit("5.08e-12") == pytest.approx(1e-14) and cmp.unit("16") == 0.0


def test_committed_summaries_compare_equal_to_themselves(tmp_path, capsys):
    """Every committed companion parses and matches a copy of itself (the check's baseline)."""
    root = ROOT / "experiments"
    files = cmp.summaries(root)
    assert files, "no committed experiments/*/out/*summary.json"
    for rel in files:
        dst = tmp_path / rel.parts[0] / rel.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, dst)
    assert cmp.main(["--fresh", str(tmp_path)]) == 0, capsys.readouterr().out


def test_committed_tables_match_their_companions():
    """The committed markdown tables hold the rows of their summary companions (what the check
    compares), so a hand-edited table or a stale companion shows up here."""
    for rel in cmp.summaries(ROOT / "experiments"):
        path = ROOT / "experiments" / rel
        name = rel.name.removesuffix("summary.json").removesuffix(".") or "results"
        md = (path.parent / f"{name}.md").read_text().splitlines()
        for table, t in json.loads(path.read_text())["tables"].items():
            for row in [t["columns"], *t["rows"]]:
                line = "| " + " | ".join(c.replace("|", "/") for c in row) + " |"
                assert line in md, f"{rel} [{table}]: row not in {name}.md:\n{line}"
