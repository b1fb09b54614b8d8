"""src/mcpops imports without a cycle, counting imports inside functions too: a lab's faults reach the lab
through the object they are given, never by importing the lab's module back."""

import ast
from pathlib import Path

import mcpops

SRC = Path(mcpops.__file__).resolve().parent


def modules():
    """{dotted name: path} of every module of the package."""
    found = {}
    for path in SRC.rglob("*.py"):
        parts = ("mcpops",) + path.relative_to(SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph():
    """{module: set of mcpops modules it imports}, relative imports resolved."""
    mods = modules()

    def known(name):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [base] + [base + "." + alias.name for alias in node.names]
            else:
                continue
            edges |= {known(t) for t in targets if t.split(".")[0] == "mcpops"}
        graph[name] = edges - {name, "mcpops", ""}
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_src_mcpops_has_no_import_cycle():
    graph = import_graph()
    assert "mcpops.lab.local.faults" in graph and "mcpops.drill.command" in graph
    assert cycles(graph) == []


def test_faults_do_not_import_their_lab_and_the_lab_dispatches_to_them():
    graph = import_graph()
    assert "mcpops.lab.local.lab" not in graph["mcpops.lab.local.faults"]
    assert "mcpops.lab.local.faults" in graph["mcpops.lab.local.lab"]
    assert "mcpops.lab.fleet.lab" not in graph["mcpops.lab.fleet.faults"]
    assert "mcpops.lab.fleet.faults" in graph["mcpops.lab.fleet.lab"]
