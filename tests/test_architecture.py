"""The package's import structure: no import cycles outside the registries, no private names
imported across packages.

Every module under ``auricle/`` is read as text: its triple-quoted strings are blanked, every
``import`` / ``from ... import`` statement (at module level and inside functions alike, since a
deferred import is still a dependency) is cut out and parsed with :mod:`ast`; nothing is imported
or run.  (Parsing whole modules with ``ast`` takes seconds on a loaded 2-core machine; the
statements alone take milliseconds.)

* **cycles**: the module import graph must be acyclic once the registries' lazy registration
  edges are removed (:data:`REGISTRY_EDGES`: ``models/registry.py`` importing the model modules
  whose ``@register_model`` decorators fill it; the datasets layout registry needs no entry, its
  layouts are registered where they are defined);
* **private names**: ``from auricle.a.b import _name``, ``import auricle.a._mod`` or
  ``module._name`` on an imported auricle module are errors when the importer lives in another
  *package*, the first two dotted components (``auricle.features``, ``auricle.training``...).
  Inside one package private names are fine.
"""
from __future__ import annotations

import ast
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "auricle"

#: (importer, imported prefix) edges that exist to fill a registry and are allowed to close a ring.
REGISTRY_EDGES = (
    ("auricle.models.registry", "auricle.models."),
    ("auricle.models.registry", "auricle.classic.models"),
)


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file for every ``.py`` under ``root`` (a package directory)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


_STRINGS = re.compile(r'"""(?:\\.|[^\\])*?"""|\'\'\'(?:\\.|[^\\])*?\'\'\'', re.S)
_IMPORTS = re.compile(r"^[ \t]*(?:from[ \t]+\.*[\w.]*[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)|import[ \t]+[^\n]*)", re.M)
_ATTRS = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.(_[A-Za-z]\w*)")


def _statements(code: str):
    """``(ast node, line)`` of every import statement of ``code`` (source with strings blanked)."""
    for m in _IMPORTS.finditer(code):
        try:
            nodes = ast.parse(m.group().strip()).body
        except SyntaxError:  # prose that looks like an import, or a backslash continuation
            continue
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node, code.count("\n", 0, m.start()) + 1


def _package(name: str) -> str:
    return ".".join(name.split(".")[:2])


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def scan(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """``(graph, private)``: the import graph among the modules under ``root`` and one line per
    import of a private name from another package (``file:line: importer imports target``)."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    private: list[str] = []
    top = root.name
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        code = _STRINGS.sub(lambda m: "\n" * m.group().count("\n"), path.read_text(encoding="utf-8"))
        bound: dict[str, str] = {}  # local name -> auricle module it refers to

        def use(target: str, line: int) -> None:
            parts = target.split(".")
            if _package(target) != _package(mod) and any(_is_private(p) for p in parts[1:]):
                private.append(f"{path.relative_to(root.parent)}:{line}: {mod} imports {target}")

        for node, line in _statements(code):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] != top:
                        continue
                    use(alias.name, line)
                    target = alias.name
                    while target not in modules and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target in modules:
                        graph[mod].add(target)
                    if alias.asname:
                        bound[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] != top:
                    continue
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    use(full, line)
                    if full in modules:
                        graph[mod].add(full)
                        bound[alias.asname or alias.name] = full
                    elif source in modules:
                        graph[mod].add(source)
        for m in _ATTRS.finditer(code):  # module._name on a bound auricle module
            if m.group(1) in bound and _is_private(m.group(2)):
                use(f"{bound[m.group(1)]}.{m.group(2)}", code.count("\n", 0, m.start()) + 1)
        graph[mod].discard(mod)
    return graph, private


def _allowed(edge: tuple[str, str], allowed) -> bool:
    a, b = edge
    return any(a == src and (b == dst or (dst.endswith(".") and b.startswith(dst))) for src, dst in allowed)


def _pruned(graph: dict[str, set[str]], allowed) -> dict[str, list[str]]:
    return {a: sorted(b for b in bs if b in graph and not _allowed((a, b), allowed)) for a, bs in graph.items()}


def components(graph: dict[str, set[str]], allowed=REGISTRY_EDGES) -> list[list[str]]:
    """The strongly connected components of more than one module (sorted), after dropping the
    ``allowed`` registry edges: every import cycle lies inside one of them."""
    g = _pruned(graph, allowed)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = 0
    for start in sorted(g):  # iterative Tarjan
        if start in index:
            continue
        work = [(start, iter(g[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(g[w])))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return sorted(comps)


def find_cycles(graph: dict[str, set[str]], allowed=REGISTRY_EDGES) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) through the first module of each of :func:`components`
    (a component may hold more cycles: fix the one shown and run again)."""
    g = _pruned(graph, allowed)
    cycles = []
    for comp in components(graph, allowed):  # a concrete cycle through the component's first module (BFS back to it)
        members = set(comp)
        first = comp[0]
        prev = {first: None}
        queue = [first]
        end = None
        while queue and end is None:
            v = queue.pop(0)
            for w in g[v]:
                if w == first:
                    end = v
                    break
                if w in members and w not in prev:
                    prev[w] = v
                    queue.append(w)
        path = [first]
        while end is not None:
            path.append(end)
            end = prev[end]
        cycles.append(path[::-1])
    return cycles


def _fmt(cycles: list[list[str]]) -> str:
    return "\n".join(" -> ".join(c) for c in cycles)


#: Rings that remain, each one a piece of work for its owner; this list may only shrink
#: (:func:`test_known_cycles_are_still_there` fails once one is gone, so its entry is deleted).
#: Empty: the last ring (``training.fit`` -> ``models.ensemble.train_separately`` -> ``training``)
#: went when ``train_separately`` moved to ``training/ensemble.py`` and takes ``train`` as an argument.
KNOWN_CYCLES: tuple = ()


def test_no_import_cycles_outside_the_registries():
    t0 = time.perf_counter()
    graph, _ = scan(ROOT)
    cycles = find_cycles(graph)
    assert len(graph) > 50  # the scan found the package
    assert time.perf_counter() - t0 < 1.0
    known = [set(c) in KNOWN_CYCLES for c in components(graph)]
    new = [c for c, k in zip(cycles, known) if not k]
    assert not new, ("import cycles (move the shared piece down into a module both can import):\n"
                     + _fmt(new))


def test_known_cycles_are_still_there():
    graph, _ = scan(ROOT)
    found = [set(c) for c in components(graph)]
    for ring in KNOWN_CYCLES:
        assert ring in found, f"the ring {sorted(ring)} is gone: delete it from KNOWN_CYCLES"


def test_no_private_imports_across_packages():
    _, private = scan(ROOT)
    assert not private, ("private names imported from another package (make them public where they "
                         "belong):\n" + "\n".join(private))


def test_registry_edges_are_still_needed():
    """The allow-list stays small: each entry matches an import that exists."""
    graph, _ = scan(ROOT)
    edges = [(a, b) for a, bs in graph.items() for b in bs]
    for entry in REGISTRY_EDGES:
        assert any(_allowed(e, [entry]) for e in edges), f"unused allow-list entry {entry}"


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = tmp_path / "pkg" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path / "pkg"


def test_planted_cycle_and_private_import_are_caught(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg.b import f\n",
        "b.py": "def f():\n    from pkg.sub import c  # deferred imports count too\n",
        "sub/__init__.py": "",
        "sub/c.py": "import pkg.a as A\nx = A._hidden\n",
        "sub/d.py": "from . import c\nfrom ._impl import _ok\nfrom pkg.sub.c import _fine\n",
        "sub/_impl.py": "_ok = 1\n",
        "e.py": "from pkg.sub._impl import _ok\nfrom .sub import d\n",
        "reg.py": "def load():\n    from pkg import e\n",
        "f.py": "import pkg.reg\n",
    })
    graph, private = scan(root)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.d"] == {"pkg.sub.c", "pkg.sub._impl"}
    assert graph["pkg.e"] == {"pkg.sub._impl", "pkg.sub.d"}
    cycles = find_cycles(graph, allowed=())
    assert cycles == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]], _fmt(cycles)
    # same-package private names are fine, cross-package ones are not
    assert [line.split(": ", 1)[1] for line in private] == [
        "pkg.e imports pkg.sub._impl._ok",
        "pkg.sub.c imports pkg.a._hidden",
    ], private
    assert private[0].startswith("pkg/e.py:1: ")


def test_allowed_registry_edge_breaks_only_its_ring(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "registry.py": "def load():\n    from pkg import m1\n",
        "m1.py": "from pkg.registry import load\nfrom pkg import other\n",
        "other.py": "def g():\n    import pkg.m1\n",
    })
    graph, _ = scan(root)
    assert find_cycles(graph, allowed=(("pkg.registry", "pkg.m1"),)) == [["pkg.m1", "pkg.other", "pkg.m1"]]
    assert len(find_cycles(graph, allowed=())) == 1  # one component: registry, m1, other
