"""The import graph of the suite's packages, and its cycles (there should be none).

Reads every module of ``mrd``, ``stimuli``, ``psychophysics`` and ``analysis`` with ``ast`` and
collects its module-level imports (imports inside functions, which load on use, and imports under
``if TYPE_CHECKING:`` are listed separately with ``--all``). Prints one line per module with what it
imports from the suite, then the strongly connected components with more than one module (cycles).

Usage::

    python scripts/import_graph.py            # module graph + cycles; exit 1 if any cycle
    python scripts/import_graph.py --packages # subpackage-level graph (mrd.config -> mrd.groups, ...)
    python scripts/import_graph.py --all      # also function-level imports

Examples
--------
>>> graph = module_graph(Path(__file__).parents[1], include_lazy=False)
>>> cycles(graph)
[]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("mrd", "stimuli", "psychophysics", "analysis")


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree: ast.Module, current: str, is_pkg: bool, include_lazy: bool) -> set[str]:
    out: set[str] = set()

    def visit(nodes: list[ast.stmt], lazy: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if include_lazy or isinstance(node, ast.ClassDef):
                    visit(node.body, lazy or not isinstance(node, ast.ClassDef))
                continue
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = current if is_pkg else current.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)
            for field in ("body", "orelse", "handlers", "finalbody"):
                if hasattr(node, field) and not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    visit(getattr(node, field), lazy)

    visit(tree.body, False)
    return out


def module_graph(root: Path, include_lazy: bool = False) -> dict[str, set[str]]:
    """``{module: {suite modules it imports}}`` for the suite's packages under ``root``."""
    files = {
        _module_name(root, p): p for pkg in PACKAGES for p in (root / pkg).rglob("*.py") if "online/node_modules" not in str(p)
    }
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in sorted(files.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = {_resolve(t, modules) for t in _imports(tree, name, path.name == "__init__.py", include_lazy)}
        graph[name] = {t for t in targets if t and t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
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
            strong(v)
    return out


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph collapsed to subpackages (``mrd.config``, ``mrd.groups``, ..., ``stimuli``)."""

    def pkg(m: str) -> str:
        parts = m.split(".")
        return ".".join(parts[:2]) if parts[0] == "mrd" and len(parts) > 2 else parts[0] if parts[0] != "mrd" else m

    out: dict[str, set[str]] = {}
    for m, deps in graph.items():
        out.setdefault(pkg(m), set()).update(pkg(d) for d in deps if pkg(d) != pkg(m))
    return out


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    graph = module_graph(root, include_lazy="--all" in argv)
    shown = package_graph(graph) if "--packages" in argv else graph
    for m in sorted(shown):
        print(f"{m} -> {', '.join(sorted(shown[m])) or '-'}")
    found = cycles(shown)
    print(f"cycles: {found if found else 'none'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
