"""The package's shape in figures: files over ~400 lines, classes over ~300, functions over ~80
lines of logic, import circles between molvae's modules, and imports of another module's private
names. Prints a report; ``--strict`` exits 1 when any limit is passed (circles and private
imports always count).

    python scripts/check_layout.py            # the report
    python scripts/check_layout.py --strict   # as a check

Imports inside ``if TYPE_CHECKING:`` are left out (they never run); imports inside functions
count, since they run. ``from molvae.pkg import sub`` is an edge to the submodule when ``sub`` is
one.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "molvae"
LIMITS = {"file": 400, "class": 300, "function": 80}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def logic_lines(node: ast.AST, source: list[str]) -> int:
    """Lines of a def/class that are neither blank, comments nor its docstring."""
    start, end = node.lineno, node.end_lineno or node.lineno
    doc = set()
    body = getattr(node, "body", [])
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
    ):
        doc = set(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    n = 0
    for i in range(start, end + 1):
        text = source[i - 1].strip()
        if text and not text.startswith("#") and i not in doc:
            n += 1
    return n


def type_checking_lines(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                out.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return out


def imports(path: Path, mods: dict[str, Path]) -> tuple[set[str], list[str]]:
    """molvae modules ``path`` imports (run-time), and the private names it imports from them."""
    tree = ast.parse(path.read_text())
    skip = type_checking_lines(tree)
    me = module_name(path)
    edges: set[str] = set()
    private: list[str] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("molvae"):
                    edges.add(a.name)
                    aliases[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("molvae"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                if sub in mods:
                    edges.add(sub)
                    aliases[a.asname or a.name] = sub
                else:
                    edges.add(node.module)
                    if a.name.startswith("_") and not a.name.startswith("__") and node.module != me:
                        private.append(f"{me}: from {node.module} import {a.name}")
    for node in ast.walk(tree):  # module._private
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and aliases[node.value.id] != me
        ):
            private.append(f"{me}: {aliases[node.value.id]}.{node.attr}")
    edges.discard(me)
    return {e for e in edges if e in mods}, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    mods = modules()
    graph: dict[str, set[str]] = {}
    private: list[str] = []
    big: list[str] = []
    for name, path in mods.items():
        text = path.read_text()
        source = text.splitlines()
        if len(source) > LIMITS["file"]:
            big.append(f"file {name}: {len(source)} lines")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > LIMITS["class"]:
                    big.append(f"class {name}.{node.name}: {n} lines")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = logic_lines(node, source)
                if n > LIMITS["function"]:
                    big.append(f"function {name}.{node.name}: {n} lines of logic")
        graph[name], priv = imports(path, mods)
        private += priv
    # a package's __init__ importing its own submodules is how a package re-exports: not a circle
    # unless a submodule imports the package back
    circles = cycles(graph)
    print(
        f"{len(mods)} modules, {sum(len(p.read_text().splitlines()) for p in mods.values()):,} lines"
    )
    print(f"over the size limits ({LIMITS}): {len(big)}")
    for line in big:
        print("  " + line)
    print(f"import circles: {len(circles)}")
    for c in circles:
        print("  " + " <-> ".join(c))
    print(f"imports of another module's private names: {len(private)}")
    for line in private:
        print("  " + line)
    bad = bool(circles or private or (args.strict and big))
    return 1 if args.strict and bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
