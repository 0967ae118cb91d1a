"""The package's folders are its layers, and imports only go down (docs/ARCHITECTURE.md).

Every ``import`` in the package, including the ones inside functions and ``TYPE_CHECKING``
blocks, is read from the source with ``ast`` and checked against the layer order below.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "videogen_nb"

# Lowest first. A module may import its own layer and any layer before it.
LAYERS = (
    "core",
    "store",
    "insight",
    "dialects",
    "http",
    "tasks",
    "run",
    "client",
    "display",
    "widgets",
)
# The package root (re-exports) and the command line sit on top of everything.
TOP = {"__init__", "cli", "__main__"}
# The sandbox is a separate program: it shares only the wire constants.
SANDBOX_MAY_IMPORT = {"core.wire", "core"}


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, module inside the package relative to it) for every import of the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = _module_name(path).split(".")
    base = here if is_package else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = [*anchor, *(node.module.split(".") if node.module else [])]
                names = [a.name for a in node.names]
                if not node.module:  # "from .. import wire": each name is a module
                    found += [(node.lineno, ".".join([*target, n])) for n in names]
                else:
                    found.append((node.lineno, ".".join(target)))
            elif node.module and node.module.split(".")[0] == "videogen_nb":
                found.append((node.lineno, node.module.partition(".")[2]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "videogen_nb":
                    found.append((node.lineno, alias.name.partition(".")[2]))
    return found


def _layer(module: str) -> str:
    return module.split(".")[0] if module else "__init__"


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        layer = _layer(module)
        for line, target in _imports(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports videogen_nb.{target}"
            target_layer = _layer(target)
            if layer == "sandbox":
                if target_layer != "sandbox" and target not in SANDBOX_MAY_IMPORT:
                    problems.append(f"{where}: the sandbox may import only core.wire")
            elif layer in TOP:
                continue
            elif target_layer == "sandbox" or target_layer in TOP:
                problems.append(f"{where}: only the package root may import {target_layer}")
            elif LAYERS.index(target_layer) > LAYERS.index(layer):
                problems.append(f"{where}: {layer}/ sits below {target_layer}/")
    return problems


def test_every_folder_is_a_known_layer() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == {*LAYERS, "sandbox"}


def test_no_module_imports_a_layer_above_it() -> None:
    assert _violations() == []


@pytest.mark.parametrize("layer", [*LAYERS, "sandbox"])
def test_each_layer_says_what_it_may_import(layer: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
    assert doc and "import" in doc.splitlines()[0].lower(), doc


def test_the_checker_sees_an_upward_import(tmp_path: pathlib.Path) -> None:
    # The checker itself must be able to fail: an upward import written to a scratch copy
    # of the rules is reported.
    scratch = tmp_path / "videogen_nb" / "core"
    scratch.mkdir(parents=True)
    (scratch / "bad.py").write_text("from ..widgets.grid import ComparisonGrid\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "videogen_nb"
    try:
        assert any("core/ sits below widgets/" in v for v in _violations())
    finally:
        PACKAGE = saved


def _runtime_imports(path: pathlib.Path, known: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports when it is loaded: module level only,
    leaving out ``if TYPE_CHECKING:`` blocks and imports inside functions."""
    is_package = path.name == "__init__.py"
    here = _module_name(path)
    base = here.split(".") if is_package else here.split(".")[:-1]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.ImportFrom) and node.level:
                anchor = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*anchor, *(node.module.split(".") if node.module else [])])
                found.add(target)
                found.update(f"{target}.{a.name}".strip(".") for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "videogen_nb."
            ):
                found.add(node.module.partition(".")[2])  # type: ignore[union-attr]
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)):
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m.strip(".") for m in found if m.strip(".") in known} - {here}


def test_no_circle_of_runtime_imports() -> None:
    # Type-only imports (under TYPE_CHECKING) and imports inside functions may point back;
    # what runs when a module loads must not go round in a circle.
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: _runtime_imports(p, set(paths)) for m, p in paths.items()}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def walk(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                walk(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert circles == []
