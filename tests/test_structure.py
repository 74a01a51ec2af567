"""The package's shape (issue 18): no import cycles, no oversized modules, and experiments/ and
scripts/ use only the public API. Imports are read from the source (function-local ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "sintersim"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports, anywhere in its body."""
    base = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                mod = ".".join(parts + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            while t and t not in mods and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in mods and t not in (name, "sintersim"):
                found.add(t)
    return found


def test_no_import_cycles():
    mods = _modules()
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    # depth-first search for a back edge
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_over_600_lines():
    big = {
        m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def _private_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Imports of private sintersim modules or names: a dotted component or an imported name
    that starts with an underscore (``sintersim.model._liquid``, ``from sintersim.x import _y``,
    ``from sintersim import _run``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "sintersim":
                continue
            names = [a.name for a in node.names]
            if any(p.startswith("_") for p in parts[1:]) or any(
                n.startswith("_") and n != "__version__" for n in names
            ):
                out.append(f"{path.relative_to(root)}:{node.lineno} from {node.module} import ...")
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "sintersim" and any(p.startswith("_") for p in parts[1:]):
                    out.append(f"{path.relative_to(root)}:{node.lineno} import {a.name}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            # ss.model._liquid or sintersim.calibrate._units.x: a private module by attribute
            v = node.value
            chain = []
            while isinstance(v, ast.Attribute):
                chain.append(v.attr)
                v = v.value
            if isinstance(v, ast.Name) and v.id in ("ss", "sintersim") and len(chain) <= 2:
                out.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
    return out


def test_experiments_and_scripts_use_only_the_public_api():
    files = [p for d in ("experiments", "scripts") for p in (ROOT / d).rglob("*.py")]
    assert files
    bad = [u for p in files for u in _private_uses(p)]
    assert not bad, "private sintersim imports outside the package:\n" + "\n".join(bad)


def test_the_private_import_check_can_fail(tmp_path):
    """The check above sees each form of a private import."""
    src = tmp_path / "x.py"
    for line in (
        "from sintersim.model._liquid import Liquid",
        "from sintersim.scenario import _run",
        "import sintersim.calibrate._units",
        "import sintersim as ss\nss.model._liquid.Liquid",
    ):
        src.write_text(line + "\n")
        assert _private_uses(src, tmp_path), line
    src.write_text("import sintersim as ss\nfrom sintersim.model import Liquid\nss.model.Liquid\n")
    assert not _private_uses(src, tmp_path)
