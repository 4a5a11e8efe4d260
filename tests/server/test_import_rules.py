"""Who may import whom (docs/architecture.md), read from the source with ast: every import, lazy ones too.

Layers point down only: robot_runtime < perception < curriculum and learning (side by side, neither
imports the other) < server/core < server/web < the features (kids, scratch, cars, teacher, lessons, language) <
the root (app, runner, main, demo); server/cluster sits beside server/web. Features never import each other: they talk through the core. The core imports neither aiohttp nor socket.io. The SDK (dojo)
imports none of ours. And there is no import cycle.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FEATURES = ("kids", "scratch", "cars", "teacher", "lessons", "language", "skills", "drive", "arena_camera")


def layer(module: str) -> tuple[int, str]:
    """(rank, feature): a module may import lower ranks, and its own rank only within its own feature."""
    top, sub = (module.split(".") + [""])[:2]
    if top != "server":
        # dojo: nothing of ours at all
        return {"robot_runtime": 0, "perception": 1, "curriculum": 2, "learning": 2, "dojo": -1}[top], top
    return {"core": 3, "web": 4, "cluster": 4}.get(sub, 5 if sub in FEATURES else 6), sub if sub in FEATURES else "root"


@functools.cache
def imports() -> dict[str, frozenset[str]]:
    """Module -> the modules of ours it imports (`from package import name` counts as the package)."""
    paths = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for top in ("robot_runtime", "perception", "curriculum", "learning", "server", "dojo") for p in (REPO / top).rglob("*.py")}
    graph = {}
    for module, path in paths.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, path, node)
                names.update([base] + [f"{base}.{a.name}" for a in node.names])
        graph[module] = frozenset(names)
    assert "server.core.classroom" in graph and "robot_runtime.safety" in graph, "the walk found our packages"
    return graph


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """`from ..kids import hub` in server/lessons/service.py -> server.kids: relative imports obey the rules too."""
    if node.level == 0:
        return node.module
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def test_imports_point_down_and_features_talk_only_through_the_core():
    wrong = []
    for module, names in imports().items():
        rank, feature = layer(module)
        for name in names:
            if module.startswith("server.core") and name.split(".")[0] in ("aiohttp", "socketio"):
                wrong.append(f"{module} imports {name}: the core stays free of web frameworks")
            if name not in imports() or name == module:
                continue
            target_rank, target_feature = layer(name)
            if target_rank > rank or (target_rank == -1 and rank != -1):
                wrong.append(f"{module} imports up (or into the SDK): {name}")
            elif rank == target_rank == 5 and feature != target_feature:
                wrong.append(f"{module} imports the {target_feature} feature: talk through server.core instead")
            elif rank == target_rank == 2 and feature != target_feature:
                wrong.append(f"{module} imports {name}: curriculum and learning stand side by side")
    assert not wrong, "\n".join(sorted(wrong))


def test_there_is_no_import_cycle():
    graph = {m: {n for n in names if n in imports() and n != m} for m, names in imports().items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for name in graph[module]:
            assert name not in path or module.startswith(name + "."), f"import cycle: {' -> '.join(path + [name])}"
            if name not in done and name not in path:
                visit(name, path + [name])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
