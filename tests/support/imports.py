"""The import graph of src/ (read as the `brandpulse` package), module by module and room by room.

`python -m tests.support.imports` prints each room's size and the rooms it imports, the edges
docs/architecture.md draws; tests/test_layout.py holds the rules (no circles, rooms by role).
Imports inside functions count as much as those at the top: a circle is a circle either way.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "brandpulse"
# Sub-packages drawn as rooms of their own; any other module belongs to its top-level package.
SUB_ROOMS = (
    "api.endpoints",
    "api.storage",
    "api.serving",
    "training.corpus",
    "dash.pages",
    "scraping.spiders",
)


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Module name -> file, for every module under `src`."""
    modules = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join([PACKAGE, *parts])] = path
    return modules


def _imported(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            for alias in node.names:
                yield f"{node.module}.{alias.name}"
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith(PACKAGE))


def module_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (a name imported from a module is an edge
    to that module; `from package import module` is an edge to the module)."""
    modules = module_files(src)
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imported(path):
            if imported in modules and imported != name:
                targets.add(imported)
        # `from brandpulse.x import name` adds both x.name and x; keep x only when name is no module.
        graph[name] = {t for t in targets if not any(o != t and o.startswith(t + ".") for o in targets)}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def room_of(module: str) -> str:
    """The room a module lives in: `model`, `api.storage`, …"""
    rest = module.removeprefix(PACKAGE + ".")
    for room in SUB_ROOMS:
        if rest == room or rest.startswith(room + "."):
            return room
    return rest.split(".")[0] if rest != PACKAGE else PACKAGE


def room_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Room -> the other rooms it imports."""
    rooms: dict[str, set[str]] = {}
    for module, targets in module_graph(src).items():
        room = room_of(module)
        rooms.setdefault(room, set()).update(room_of(t) for t in targets if room_of(t) != room)
    return rooms


def main() -> int:
    graph = module_graph()
    lines: dict[str, int] = {}
    for module, path in module_files().items():
        lines[room_of(module)] = lines.get(room_of(module), 0) + len(path.read_text().splitlines())
    for room, targets in sorted(room_graph().items()):
        sys.stdout.write(f"{room:18} {lines[room]:6} lines -> {', '.join(sorted(targets)) or '-'}\n")
    found = circles(graph)
    sys.stdout.write(f"import circles: {found or 'none'}\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
