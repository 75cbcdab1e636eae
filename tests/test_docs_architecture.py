"""docs/architecture.md is held against the tree: every ``module.py:name`` it cites exists and
defines that name, every module and package of ``src/labridge`` appears in its map of the
layers, and docs/vocabulary.md's ``module:function`` references resolve too. A rename that
forgets the map fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "labridge"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
VOCABULARY = (ROOT / "docs" / "vocabulary.md").read_text(encoding="utf-8")

#: `cli/operations.py:_over_source`, `client.py:AsyncClient.group_enrolment`
FILE_REF = re.compile(r"`([\w/]+\.py):([\w.]+)`")
#: `labridge.sources.mapping:SourceMapping.rename`
MODULE_REF = re.compile(r"`(labridge(?:\.\w+)+):([\w.]+)`")


def _defines(path: Path, dotted: str) -> bool:
    """Whether ``path`` defines ``dotted`` (a function, class, method or module-level name)."""
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for part in dotted.split("."):
        found = None
        for node in scope:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name == part:
                    found = node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    return True
        if found is None:
            return False
        scope = found.body
    return True


def _file_refs() -> list[tuple[str, str]]:
    return sorted(set(FILE_REF.findall(ARCHITECTURE)))


def _module_refs() -> list[tuple[str, str]]:
    return sorted(set(MODULE_REF.findall(VOCABULARY)))


def test_the_docs_cite_code_at_all() -> None:
    assert len(_file_refs()) >= 20
    assert len(_module_refs()) >= 10


@pytest.mark.parametrize(("path", "name"), _file_refs())
def test_each_function_architecture_md_names_exists(path: str, name: str) -> None:
    file = PACKAGE / path
    assert file.is_file(), f"docs/architecture.md cites {path}, which is not in src/labridge"
    assert _defines(file, name), f"docs/architecture.md cites {path}:{name}, not defined there"


@pytest.mark.parametrize(("module", "name"), _module_refs())
def test_each_function_vocabulary_md_names_exists(module: str, name: str) -> None:
    parts = module.split(".")[1:]
    file = PACKAGE.joinpath(*parts).with_suffix(".py")
    if not file.is_file():
        file = PACKAGE.joinpath(*parts, "__init__.py")
    assert file.is_file(), f"docs/vocabulary.md cites {module}, which does not exist"
    assert _defines(file, name), f"docs/vocabulary.md cites {module}:{name}, not defined there"


def test_the_map_of_the_layers_shows_every_module_and_package() -> None:
    tree = ARCHITECTURE.split("## The layers", 1)[1].split("## One learner record", 1)[0]
    missing = []
    for entry in sorted(PACKAGE.iterdir()):
        if entry.name.startswith("__") or entry.name in ("py.typed", "_lazy.py", "_version.py"):
            continue
        if entry.is_dir() and not (entry / "__init__.py").exists():
            continue
        name = entry.name if entry.is_file() else f"{entry.name}/"
        if name not in tree:
            missing.append(name)
    assert not missing, f"docs/architecture.md's map lacks {missing}"
    for module in sorted((PACKAGE / "cli").glob("*.py")):
        if module.name != "__init__.py":
            assert module.name in tree, f"docs/architecture.md's map lacks cli/{module.name}"
