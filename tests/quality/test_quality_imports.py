"""Property-based tests of the import graph: cycles reported are exactly the real ones."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from buildrunner.quality import imports as import_graph
from buildrunner.quality.imports import ImportRecord, find_cycles
from buildrunner.quality.sources import SourceFile

graphs = st.integers(2, 7).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.booleans()), max_size=n * 3),
    )
)


def _project(n: int, edges: set[tuple[int, int, bool]]):
    sources = [SourceFile(Path(f"pkg/m{i}.py"), f"pkg/m{i}.py", f"pkg.m{i}", False, False) for i in range(n)]
    imports: dict[str, list[ImportRecord]] = {s.rel: [] for s in sources}
    for line, (src, dst, eager) in enumerate(sorted(edges), 1):
        imports[f"pkg/m{src}.py"].append(ImportRecord("pkg", (f"m{dst}",), line, eager))
    return sources, imports


def _on_a_cycle(n: int, edges: set[tuple[int, int, bool]]) -> set[str]:
    graph = {i: {d for s, d, eager in edges if s == i and eager and d != i} for i in range(n)}
    found = set()
    for start in range(n):
        seen, stack = set(), list(graph[start])
        while stack:
            node = stack.pop()
            if node == start:
                found.add(f"pkg.m{start}")
                break
            if node not in seen:
                seen.add(node)
                stack.extend(graph[node])
    return found


@given(graphs)
def test_reported_cycles_are_exactly_the_import_time_cycles(graph: tuple[int, set[tuple[int, int, bool]]]) -> None:
    n, edges = graph
    sources, imports = _project(n, edges)
    cycles = find_cycles(imports, sources)
    assert {m for c in cycles for m in c.members} == _on_a_cycle(n, edges)
    eager = {(f"pkg.m{s}", f"pkg.m{d}") for s, d, is_eager in edges if is_eager}
    for cycle in cycles:
        assert cycle.modules[0] == cycle.modules[-1] and set(cycle.modules) <= set(cycle.members)
        assert all(step in eager for step in zip(cycle.modules, cycle.modules[1:], strict=False))


@given(graphs)
def test_a_module_is_tested_when_a_test_imports_it_or_a_submodule(graph: tuple[int, set[tuple[int, int, bool]]]) -> None:
    n, edges = graph
    sources, imports = _project(n, set())
    package = SourceFile(Path("pkg/__init__.py"), "pkg/__init__.py", "pkg", False, True)
    test = SourceFile(Path("tests/test_x.py"), "tests/test_x.py", "test_x", True, False)
    targets = sorted({d for _, d, _ in edges})
    imports[test.rel] = [ImportRecord(f"pkg.m{d}", (), 1, False) for d in targets]
    tested = import_graph.tested_modules(imports, [*sources, package, test])
    expected = {f"pkg.m{d}" for d in targets} | ({"pkg"} if targets else set())
    assert tested == expected
