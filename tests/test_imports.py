"""The package's import graph: one straight pipeline, no cycles (issue 18).

Every ``import`` statement of every module — at module level, inside functions and under
``TYPE_CHECKING`` alike — is read with ``ast`` (nothing is imported or executed) and checked
against the stage order of docs/architecture.md: a module may import its own stage and the
stages before it, never a later one, and never another package of the same rank.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "memsim"

#: ranks in pipeline order; packages sharing a rank may not import each other. ``runtime`` is
#: the slot of the runtime model (issue 14): after mapping, before prepare, which applies it.
STAGES = [
    # foundation: leaf helpers every stage may use (they import no other memsim module)
    ("units", "errors", "fileio", "version", "jit"),
    ("config",),
    ("workloads",),
    ("planning",),
    # tensor sizes under compression, line-run attributes: planning's size hook and mapping use
    # them; they read workloads only
    ("strategies",),
    ("mapping",),
    ("runtime",),
    ("prepare",),
    ("cache",),
    ("engine",),
    ("analysis",),
    # consumers of whole runs: sweeps, reports, and calibration (fits runtime parameters by
    # simulating measured rows)
    ("sweep", "report", "calibration"),
    # the command line and the public facade (memsim/__init__.py: memsim.simulate)
    ("cli", "memsim"),
    ("__main__",),
]
RANK = {name: i for i, names in enumerate(STAGES) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def _targets(node, module: str, is_package: bool) -> list[str]:
    """Internal modules an import statement loads (``from a import b``: ``a.b`` when that is
    a module, else ``a``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "memsim"]
    if node.level:
        base = module.split(".")
        base = base[:len(base) - node.level + (1 if is_package else 0)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source.split(".")[0] != "memsim":
        return []
    out = []
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        out.append(sub if _is_module(sub) else source)
    return out


def import_edges() -> list[tuple[str, str, int, bool]]:
    """``(module, imported module, line, inside a function)`` for every internal import."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        local = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                local.update(id(n) for n in ast.walk(fn))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, module, path.name == "__init__.py"):
                    edges.append((module, target, node.lineno, id(node) in local))
    return edges


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "memsim"


EDGES = import_edges()


def test_the_walk_sees_the_package():
    modules = {a for a, *_ in EDGES}
    assert len(EDGES) > 150 and {"memsim.engine.run", "memsim.prepare.stage",
                                 "memsim.mapping.mapper", "memsim.cli.cmd_trace"} <= modules
    assert any(local for *_, local in EDGES)  # function-local imports are walked too


def test_every_package_has_a_stage():
    packages = {stage(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert packages - set(RANK) == set()


def test_imports_follow_the_stage_order():
    wrong = [f"{a}:{line} imports {b}" + (" (inside a function)" if local else "")
             for a, b, line, local in EDGES
             if stage(a) != stage(b) and RANK[stage(b)] >= RANK[stage(a)]]
    assert wrong == []


def test_foundation_modules_import_nothing_internal():
    foundation = set(STAGES[0])
    assert [(a, b) for a, b, *_ in EDGES if stage(a) in foundation and stage(b) != stage(a)] == []


def _cycles(edges) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, set] = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_import_cycle_even_through_function_local_imports():
    # a package imports its own submodules from __init__; a submodule importing its package
    # back would close a loop, so package → submodule edges count like any other
    assert _cycles([(a, b) for a, b, *_ in EDGES]) == []


@pytest.mark.parametrize("edges,expected", [
    ([("a", "b"), ("b", "c")], []),
    ([("a", "b"), ("b", "a")], [["a", "b"]]),
    ([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")], [["a", "b", "c"]]),
])
def test_cycle_finder_on_known_graphs(edges, expected):
    assert _cycles(edges) == expected
