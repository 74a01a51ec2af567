"""The documentation stays true: the generated config reference is current, the README starts
with the two set-up commands, every linked page (and heading) exists, and each "how to add" page
lists files that exist and code that matches the interfaces it teaches."""

from __future__ import annotations

import ast
import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

import sintersim as ss

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
HOWTOS = [
    "howto-energy-term.md",
    "howto-mobility-path.md",
    "howto-kinetics.md",
    "howto-material.md",
    "howto-observable.md",
]
PAGES = [
    "index.md",
    "user-guide.md",
    "config.md",
    "physics.md",
    "performance.md",
    "api.md",
    "architecture.md",
    *HOWTOS,
]
FILES_HEADING = "## Files this touches"


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "config_reference", ROOT / "scripts" / "config_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


config_reference = _load_script()


# ------------------------------------------------------------------------------ markdown helpers
def _strip_fenced(text: str) -> str:
    """The text without its fenced code blocks (headings and links there are not Markdown)."""
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S)


def _fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.M | re.S)


def _first_code_block(text: str) -> tuple[list[str], list[str]]:
    """(lines of the first code block, fenced or indented; non-blank lines before it)."""
    lines = text.splitlines()
    before: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            return lines[i + 1 : end], before
        if line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            return block, before
        if line.strip():
            before.append(line)
        i += 1
    return [], before


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", lambda m: "_" if m.group() == "_" else "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _strip_fenced(path.read_text())
    return {_slug(h) for h in re.findall(r"^#{1,6} +(.+?) *#*$", text, flags=re.M)}


def _links(path: Path) -> list[str]:
    text = _strip_fenced(path.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _check_links(path: Path) -> list[str]:
    """Every relative link of ``path`` names an existing file (and heading, for an anchor)."""
    bad = []
    for target in _links(path):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            bad.append(f"{path.relative_to(ROOT)}: link to missing {target}")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{path.relative_to(ROOT)}: link to missing heading {target}")
    return bad


# ---------------------------------------------------------------------------------- (a) config.md
def test_config_reference_is_current():
    expected = config_reference.generate()
    current = (DOCS / "config.md").read_text()
    assert current == expected, (
        "docs/config.md is out of date: run `python3 scripts/config_reference.py --write`"
    )


def test_config_reference_lists_every_schema_field():
    text = config_reference.generate()
    for section, fields in config_reference.package_schema().items():
        part = text.split(f"## [{section}]\n", 1)[1].split("\n## ", 1)[0]
        for key, field in fields.items():
            row = next(line for line in part.splitlines() if line.startswith(f"| `{key}` |"))
            assert config_reference.range_text(field).replace("|", "\\|") in row, (section, key)
    # the built-in sections are all there
    assert {"material", "grid", "time", "orientation", "melting"} <= set(
        config_reference.package_schema()
    )


def test_config_reference_ranges_render_like_validation():
    field = ss.scenario.SCHEMA["grid"]["spacing_nm"]
    assert config_reference.range_text(field) == "(0, 100] nm"
    assert config_reference.range_text(ss.scenario.SCHEMA["time"]["n_saves"]) == "[1, 100000]"
    assert config_reference.default_text(ss.scenario.SCHEMA["time"]["end_s"]) == "required"
    preset = config_reference.range_text(ss.scenario.SCHEMA["material"]["preset"])
    assert all(f"`{name}`" in preset for name in ss.materials.MATERIALS)


def test_config_reference_check_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "config.md"
    stale.write_text(config_reference.generate().replace("| `end_s` |", "| `end` |"))
    monkeypatch.setattr(config_reference, "TARGET", stale)
    monkeypatch.setattr(config_reference, "ROOT", tmp_path)
    assert config_reference.main(["--check"]) == 1
    assert "--write" in capsys.readouterr().err
    assert config_reference.main(["--write"]) == 0
    assert config_reference.main(["--check"]) == 0


def test_config_reference_leaves_out_sections_registered_from_outside():
    """A feature registered by user code (or another test) does not make docs/config.md stale."""

    class Probe(ss.scenario.Feature):
        section = "docs_test_probe"
        schema = {"enabled": ss.scenario.Field(bool, False, "", "probe")}

    Probe.__module__ = "my_plugin"
    before = config_reference.generate()
    feature = ss.scenario.register_feature(Probe())
    try:
        assert "docs_test_probe" in ss.scenario.SCHEMA
        assert config_reference.generate() == before
    finally:
        ss.scenario.unregister_feature(feature)
    assert "docs_test_probe" not in ss.scenario.SCHEMA


# ------------------------------------------------------------------------------------ (b) README
def test_readme_starts_with_the_two_setup_commands():
    block, before = _first_code_block(README.read_text())
    assert block == ["make demo", "make test"], block
    assert len(before) <= 1 and all(line.startswith("# ") for line in before), before
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target


def test_readme_is_short():
    assert len(README.read_bytes()) <= 5 * 1024


# ------------------------------------------------------------------------------------- (c) links
def test_every_docs_page_exists_and_the_index_links_them_all():
    for page in PAGES:
        assert (DOCS / page).is_file(), page
    index_targets = {t.partition("#")[0] for t in _links(DOCS / "index.md")}
    readme_targets = {t.partition("#")[0] for t in _links(README)}
    assert "docs/index.md" in readme_targets
    for page in sorted(p.name for p in DOCS.glob("*.md")):
        if page != "index.md":
            assert page in index_targets, f"docs/index.md does not link {page}"


@pytest.mark.parametrize("page", ["README.md", *[f"docs/{p}" for p in PAGES]])
def test_links_resolve(page):
    assert _check_links(ROOT / page) == []


# -------------------------------------------------------------------------------- (d) how-to pages
def _files_touched(text: str) -> list[tuple[str, bool]]:
    """(path, new?) of each item of the page's files section."""
    assert FILES_HEADING in text, f"no '{FILES_HEADING}' section"
    section = text.split(FILES_HEADING, 1)[1].split("\n## ", 1)[0]
    items = []
    for line in section.splitlines():
        if line.startswith("- "):
            match = re.match(r"- `([^`]+)`", line)
            assert match, f"item without a backticked path: {line}"
            items.append((match.group(1), "(new)" in line))
    return items


@pytest.mark.parametrize("page", HOWTOS)
def test_howto_lists_files_that_exist(page):
    items = _files_touched((DOCS / page).read_text())
    assert items, f"{page}: lists no files"
    for path, new in items:
        target = ROOT / path
        assert target.resolve().is_relative_to(ROOT), path
        if new:
            assert target.parent.is_dir(), f"{page}: {path}: no folder {target.parent}"
        else:
            assert target.is_file(), f"{page}: {path} does not exist"


def _public_bases() -> dict[str, type]:
    names = {}
    for namespace in (ss.model, ss.scenario):
        for name in namespace.__all__:
            obj = getattr(namespace, name)
            if isinstance(obj, type):
                names[name] = obj
    return names


@pytest.mark.parametrize("page", HOWTOS)
def test_howto_code_matches_the_interfaces(page):
    """Each Python snippet parses; a class built on a public base implements the base's abstract
    methods (unless the snippet is elided with `...`), its class settings exist on the base, and
    a method the base lacks is a helper the class itself calls (a misspelt or renamed hook
    fails)."""
    bases = _public_bases()
    for code in _fenced_blocks((DOCS / page).read_text(), "python"):
        tree = ast.parse(textwrap.dedent(code))
        for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            known = [bases[b.id] for b in cls.bases if isinstance(b, ast.Name) and b.id in bases]
            if not known:
                continue
            body = ast.unparse(cls)
            methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
            elided = any(
                isinstance(n, ast.Expr) and getattr(n.value, "value", None) is Ellipsis
                for n in cls.body
            )  # a shortened snippet (`...` in the class body) need not be complete
            for base in [] if elided else known:
                missing = set(getattr(base, "__abstractmethods__", ())) - methods
                assert not missing, f"{page}: {cls.name} lacks {sorted(missing)}"
            for node in cls.body:
                if isinstance(node, ast.FunctionDef):
                    helper = f"self.{node.name}(" in body
                    ok = helper or any(hasattr(b, node.name) for b in known)
                    assert ok, f"{page}: {cls.name}.{node.name} is no hook of {known}"
                    continue
                if isinstance(node, ast.AnnAssign) and "ClassVar" in ast.unparse(node):
                    name = node.target.id
                elif isinstance(node, ast.Assign) and issubclass(known[0], ss.scenario.Feature):
                    name = node.targets[0].id
                else:
                    continue
                assert any(hasattr(b, name) for b in known), f"{page}: {cls.name}.{name}"
