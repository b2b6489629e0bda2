"""No import cycles between opslens modules.

Every module of the package is parsed (not imported) and every import of an opslens module is an
edge: at module level and inside functions alike, since a late import that dodges a cycle at start
up still ties the two modules together; so do imports under `if TYPE_CHECKING:` (a type that both
sides need belongs in a module below them). The one cycle allowed is the encoder's backend
factory: `encoder` builds an `onnx_encoder` backend, which uses `encoder`'s interface.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "opslens"
ROOT = Path(__file__).resolve().parents[1]  # the repository root is the `opslens` package
ALLOWED = {frozenset({"opslens.model.encoder", "opslens.model.onnx_encoder"})}


def package_dirs() -> Iterator[Path]:
    """The package and its subpackages: folders with an __init__.py, reached through such folders."""
    todo = [ROOT]
    while todo:
        folder = todo.pop()
        yield folder
        todo.extend(sorted(d for d in folder.iterdir() if d.is_dir() and (d / "__init__.py").is_file()))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def modules() -> dict[str, Path]:
    return {module_name(f): f for d in package_dirs() for f in sorted(d.glob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported opslens module, line) for each import in the module's source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod itself.
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and (ast.unparse(node.func).endswith("import_module"))
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        else:
            continue
        for target in targets:
            # `import opslens.a.b` names the deepest known module it reaches.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno


def graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    found = modules()
    known = set(found)
    edges: dict[str, set[str]] = {m: set() for m in found}
    where: dict[tuple[str, str], str] = {}
    for name, path in found.items():
        for target, line in imports(name, path, known):
            edges[name].add(target)
            where.setdefault((name, target), f"{path.relative_to(ROOT)}:{line}")
    return edges, where


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion depth is not the point)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def a_cycle(component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """One concrete cycle through the component's first module (breadth-first, so a shortest one)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(edges[node] & component):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    nxt.append(child)
        frontier = nxt
    raise AssertionError("a strongly connected component always has a cycle")


def describe(cycle: list[str], where: dict[tuple[str, str], str]) -> str:
    steps = [f"    {a} -> {b}  ({where[a, b]})" for a, b in itertools.pairwise(cycle)]
    return "\n".join(steps)


def test_the_walk_sees_the_whole_package() -> None:
    found = modules()
    for name in ("opslens", "opslens.cli", "opslens.model.pipeline", "opslens.api.app", "opslens.eval.cli"):
        assert name in found, name
    assert not any(".tests" in m for m in found)
    edges, _ = graph()
    assert "opslens.model.options" in edges["opslens.model.pipeline"]


def test_no_import_cycles() -> None:
    edges, where = graph()
    cycles = [c for c in strongly_connected(edges) if len(c) > 1 and frozenset(c) not in ALLOWED]
    report = "\n\n".join(
        f"  {len(c)} modules import each other: {', '.join(sorted(c))}\n  for example:\n"
        + describe(a_cycle(c, edges), where)
        for c in cycles
    )
    assert not cycles, f"import cycles between opslens modules:\n{report}"


def layer(module: str) -> str:
    """The subpackage a module belongs to (opslens.model.faithfulness.guard -> opslens.model);
    a root module (opslens.cli, opslens.corpus) is a layer of its own."""
    return ".".join(module.split(".")[:2])


def test_no_cycles_between_subpackages() -> None:
    """model, api, eval, training and batch import one another one way only (eval never imports
    training, whose trainers use eval's metrics)."""
    edges, where = graph()
    layers: dict[str, set[str]] = {}
    via: dict[tuple[str, str], str] = {}
    for source, targets in edges.items():
        for target in targets:
            a, b = layer(source), layer(target)
            layers.setdefault(a, set())
            layers.setdefault(b, set())
            if a != b:
                layers[a].add(b)
                via.setdefault((a, b), f"{source} -> {target}, {where[source, target]}")
    cycles = [c for c in strongly_connected(layers) if len(c) > 1]
    report = "\n".join(describe(a_cycle(c, layers), via) for c in cycles)
    assert not cycles, f"subpackages that import each other:\n{report}"


def test_the_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    components = strongly_connected(edges)
    assert {"a", "b", "c"} in components and {"d"} in components
    assert a_cycle({"a", "b", "c"}, edges) == ["a", "b", "c", "a"]
