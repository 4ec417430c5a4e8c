"""The core's sub-packages depend on each other in one direction only: no import circle.

Read from the source (every `import`, at module level or inside a function, type-checking
ones included), so a lazy import cannot hide a circle: `report` may read `experiences`,
never the other way round.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tests.conftest import ROOT

CORE = ROOT / "shared" / "earnest"


def part_of(module: str) -> str | None:
    """`earnest.report.build` -> `report`; a top-level module is its own part."""
    parts = module.split(".")
    if parts[0] != "earnest" or len(parts) < 2:
        return None
    return parts[1]


def imports(source: str, package: str) -> Iterator[str]:
    """Every module `source` (a module of `package`) imports, wherever the import is."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield f"{base}.{node.module}" if node.module else base
            elif node.module:
                yield node.module
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in CORE.rglob("*.py"):
        rel = path.relative_to(CORE)
        source = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if source == "__init__":
            continue
        targets = graph.setdefault(source, set())
        package = ".".join(("earnest", *rel.parent.parts))
        for module in imports(path.read_text(), package):
            target = part_of(module)
            if target is None or target == source:
                continue
            if (CORE / target).is_dir() or (CORE / f"{target}.py").exists():
                targets.add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle between parts, each as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*path, node])
        done.add(node)

    for start in sorted(graph):
        visit(start, [])
    return found


def test_no_import_circle_between_the_cores_sub_packages() -> None:
    graph = package_graph()
    assert {"experiences", "report", "decide", "consent", "events"} <= set(graph)
    assert circles(graph) == []


def test_the_checker_finds_a_circle_through_a_lazy_or_relative_import() -> None:
    lazy = "def f():\n    from earnest.report import guardrails\n"
    assert "earnest.report.guardrails" in set(imports(lazy, "earnest.experiences"))
    relative = "from ..report import stats\n"
    assert "earnest.report" in set(imports(relative, "earnest.experiences"))
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
