"""The layout shows the architecture: layers import only downwards and no module imports itself round a cycle.

Every import counts, the ones inside functions too: a lazy import still ties the two modules together.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "simulator"

# Bottom to top. A module may import its own layer and the layers below it, never one above.
LAYERS = [
    ("foundation", ("simulator", "simulator.errors", "simulator.settings", "simulator.terminal")),
    ("content", ("simulator.content",)),
    ("scoring", ("simulator.scoring",)),
    ("engine", ("simulator.engine",)),
    ("store", ("simulator.store",)),
    ("session", ("simulator.session", "simulator.services")),
    ("studio", ("simulator.studio",)),
    ("reports", ("simulator.reports",)),
    ("tui", ("simulator.tui",)),
    ("serve", ("simulator.serve",)),
    ("cli", ("simulator.cli", "simulator.__main__")),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from pkg import sub` names the submodule, not the package (a parent package is always imported
            # first, for every submodule, so counting it would make every package a "cycle" with its children)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            # the most specific module of ours that the import names
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(module: str) -> int:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def test_layers_import_only_downwards():
    wrong = []
    for module, targets in _graph().items():
        for target in targets:
            if target == "simulator":
                continue  # the package's own __init__ (its version string)
            if _layer(target) > _layer(module):
                wrong.append(f"{module} ({LAYERS[_layer(module)][0]}) imports {target} "
                             f"({LAYERS[_layer(target)][0]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt == "simulator" and node != "simulator":
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The two tests above can fail: the graph they read has the edges the code has."""
    graph = _graph()
    assert "simulator.content.library" in graph["simulator.cli.content"] or \
        "simulator.content.library" in graph["simulator.cli.main"]
    assert _layer("simulator.tui.trainee.app") > _layer("simulator.session") > _layer("simulator.store.connection")
    assert "simulator.engine" in graph["simulator.session"]


def test_only_settings_reads_the_environment():
    reading = re.compile(r"""(environ(\.get)?|getenv)\s*[\[(]\s*["']FRONTLINE_""")
    readers = sorted(name for name, path in _modules().items()
                     if reading.search(path.read_text()) and name != "simulator.settings")
    assert reading.search('os.environ.get("FRONTLINE_DB")') and reading.search("os.environ['FRONTLINE_X']")
    assert readers == [], f"FRONTLINE_* variables are read outside simulator.settings: {readers}"
