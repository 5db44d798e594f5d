"""No import cycles inside `cuescore`, and the light modules stay free of torch.

The graph is read from the source with `ast`, so an import inside a function counts as much as
one at the top of a module. Module A has an edge to module B when A imports B anywhere:
`import cuescore.x.y`, `from cuescore.x import y` (y a submodule: the edge goes to it, else to
`cuescore.x`), relative imports resolved against A's package.

Package `__init__` files count: importing `cuescore.x.y` first runs `cuescore/x/__init__.py`, so A
also has an edge to every package above B. The exception is A's own packages: Python has already
started them before A runs (`cuescore.x.y` importing `cuescore.x.z` does not run `cuescore/x/
__init__.py` again), so a module importing its own parent package is not a cycle. A cycle is a
closed path in this graph; the test lists, for every module on one, a shortest cycle through it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cuescore

SRC = Path(cuescore.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    """Dotted name → file of every module under src/cuescore (a package by its `__init__.py`)."""
    out = {}
    for path in SRC.rglob("*.py"):
        parts = ("cuescore",) + path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of `cuescore` that `name` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)
    return {m for m in found if m in modules}


def _with_packages(target: str, importer: str) -> set[str]:
    """`target` and the packages above it that importing it runs, less the importer's own."""
    parts = target.split(".")
    chain = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    own = {".".join(importer.split(".")[:i]) for i in range(1, len(importer.split(".")) + 1)}
    return chain - own


def import_graph() -> dict[str, set[str]]:
    """Module → the modules importing it runs (see the module docstring)."""
    modules = _modules()
    return {name: set().union(*(_with_packages(t, name) for t in _imported(name, path, modules)))
            for name, path in modules.items()}


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
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
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                out.append(sorted(comp))
    return out


def _closed_path(graph: dict[str, set[str]], component: list[str], start: str) -> list[str]:
    """A shortest path from `start` back to itself inside its component."""
    members = set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, start]
                if child not in previous:
                    previous[child] = node
                    nxt.append(child)
        frontier = nxt
    return component


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`: for every module on one, a shortest closed path through it
    (each distinct cycle once, starting from its first module in sorted order)."""
    found: dict[tuple[str, ...], list[str]] = {}
    for component in _components(graph):
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        for start in component:
            path = _closed_path(graph, component, start)[:-1]
            first = path.index(min(path))
            ring = path[first:] + path[:first]
            found.setdefault(tuple(ring), ring + ring[:1])
    return sorted(found.values())


def test_the_cycle_finder_finds_cycles_through_functions_and_packages():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(map(tuple, cycles(graph))) == [("a", "b", "c", "a"), ("e", "e")]
    assert _with_packages("cuescore.data.dataset", "cuescore.training.loop") == {"cuescore.data", "cuescore.data.dataset"}
    assert _with_packages("cuescore.data.muvisync", "cuescore.data.dataset") == {"cuescore.data.muvisync"}


def test_the_graph_sees_imports_inside_functions_and_relative_ones(tmp_path):
    modules = _modules()
    graph = import_graph()
    assert len(modules) > 50 and "cuescore.engines.affective" in graph
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from . import plan\n    from ..errors import InputError\n")
    assert _imported("cuescore.music.mod", source, modules) == {"cuescore.music", "cuescore.music.plan", "cuescore.errors"}


def test_no_import_cycles_inside_cuescore():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_default_engine_does_not_import_torch():
    code = "import cuescore.engines.affective, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


HEAVY = ("scipy", "cv2", "scenedetect", "torch", "librosa", "transformers", "gradio", "av", "pedalboard")
_RUN_AND_LIST = ("import sys\nfrom cuescore.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
                 "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")


def _imported_by(*args) -> set[str]:
    """Top-level packages loaded by `cuescore ARGS` run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _RUN_AND_LIST, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.splitlines()[-1].split())


@pytest.mark.parametrize("args", [("--help",), ("generate", "--help"), ("analyze", "--help"), ("serve", "--help"),
                                  ("plot", "--help"), ("regenerate", "--help"), ("evaluate", "--help"),
                                  ("train", "--help"), ("dataset", "build", "--help"), ("dataset", "merge", "--help"),
                                  ("convert", "vidmuse", "--help")])
def test_help_imports_none_of_the_heavy_modules(args):
    loaded = _imported_by(*args)
    assert "cuescore" in loaded and loaded & set(HEAVY) == set()


def test_generate_with_the_default_engine_imports_no_model_libraries_and_no_scipy(demo_clip, tmp_path):
    """SciPy's import alone is about a tenth of a short generate (the meter, limiter and synthesiser
    design and run their filters without it)."""
    loaded = _imported_by("generate", demo_clip.path, "-o", tmp_path / "out.mp4")
    assert "av" in loaded  # it ran
    assert loaded & {"scipy", "torch", "librosa", "transformers", "gradio"} == set()


def test_analyze_with_the_handcrafted_encoder_imports_no_scipy(demo_clip, tmp_path):
    """SciPy's import alone takes about a third of a plain decode of a minute of 720p video."""
    loaded = _imported_by("analyze", demo_clip.path, "-o", tmp_path / "features")
    assert "av" in loaded  # it ran
    assert loaded & {"scipy", "torch", "librosa", "transformers", "gradio"} == set()
