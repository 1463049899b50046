"""stages/lib/core has no import circle, counting imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[4] / "stages/lib/core"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(CORE.glob("*.py")):
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("stages.lib.core."):
                    module = name.split(".")[3]
                    if (CORE / f"{module}.py").is_file():
                        edges.add(module)
        graph[path.stem] = edges - {path.stem}
    return graph


def test_core_has_no_import_circle():
    graph = _graph()
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        assert node not in stack, "import circle in stages/lib/core: " + " -> ".join([*stack, node])
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*stack, node])
        done.add(node)

    for module in sorted(graph):
        visit(module, [])


def test_errors_module_keeps_both_names_the_stages_import():
    from stages.lib.core import errors, exceptions

    assert errors.StageError is exceptions.StageError and callable(errors.cli)
