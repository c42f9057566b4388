"""The package's import graph: no cycles, and no private names borrowed across modules.

Every `import` counts, at module level or inside a function, except those under
`if TYPE_CHECKING:` (they never run). A submodule's implicit import of its parent package is not
an edge: a package `__init__` that re-exports its submodules would otherwise always be a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dfdetect"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node except what sits under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(path: Path, modules: set[str]) -> set[tuple[str, str | None]]:
    """(imported module, imported name or None) for every dfdetect import in `path`."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[tuple[str, str | None]] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(a.name, None) for a in node.names if a.name.split(".")[0] == "dfdetect"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.split(".")[0] != "dfdetect":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add((sub, None) if sub in modules else (base, alias.name))
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {dep for dep, _ in _imports(p, set(files)) if dep in files and dep != m} for m, p in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_package_has_no_import_cycle() -> None:
    graph = _graph()
    assert len(graph) > 50  # the walk really saw the package
    assert _cycles(graph) == []


def test_no_private_name_imported_across_modules() -> None:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    offenders = []
    for module, path in files.items():
        if module.startswith("dfdetect.commands"):
            continue
        for dep, name in _imports(path, set(files)):
            private = (name or dep.rpartition(".")[2]).startswith("_") and not (name or dep).endswith("__")
            if private and dep != module:
                offenders.append(f"{module} imports {dep}{'.' + name if name else ''}")
        offenders += [f"{module} uses {use}" for use in _private_module_attributes(path, set(files))]
    assert offenders == []


def _private_module_attributes(path: Path, modules: set[str]) -> list[str]:
    """`mod._name` where `mod` is a dfdetect module bound by an import (`runner._run_combo`)."""
    tree = ast.parse(path.read_text())
    bound: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dfdetect"):
            bound |= {a.asname or a.name for a in node.names if f"{node.module}.{a.name}" in modules}
        elif isinstance(node, ast.Import):
            bound |= {a.asname for a in node.names if a.asname and a.name in modules}
    return [f"{n.value.id}.{n.attr}" for n in _runtime_nodes(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in bound
            and n.attr.startswith("_") and not n.attr.endswith("__")]


@pytest.mark.parametrize("package", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")))
def test_every_subpackage_says_what_it_is_for(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert doc and len(doc.splitlines()[0]) > 20
