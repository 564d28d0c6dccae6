"""The package's layering, checked so that it stays true: no import runs from a lower layer to a higher one, no
import cycle between modules, and no library hook name outside the model-family adapters."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "dcirc_utils"

#: bottom to top; a module may import its own layer and the ones below
LAYERS = {"core": 0, "models": 1, "engine": 2, "methods": 3, "studies": 4, "report": 5, "offline": 6}
#: the only modules allowed to spell a library's hook names
ADAPTER_MODULES = {"dcirc_utils.models.adapters", "dcirc_utils.models.decoder", "dcirc_utils.models.encoder"}
HOOK_NAME = re.compile(r"blocks\.(\d|\{)|\bhook_(z|q|k|v|pattern|mlp_out|mlp_in|resid_\w+|attn_out|scale|embed)\b|"
                       r"ln2\.hook|ln_final\.hook|run_with_cache|run_with_hooks|hook_dict")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Package modules imported anywhere in the file (function-level imports included)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                root = base[: len(base) - (node.level - 1)]
                mod = ".".join(root + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != "dcirc_utils" and t != name:
                found.add(t)
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


@pytest.fixture(scope="module")
def graph():
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_belongs_to_a_layer(graph):
    stray = [m for m in graph if m != "dcirc_utils" and _layer(m) is None]
    assert not stray, f"modules outside the layers {sorted(LAYERS)}: {stray}"


def test_no_import_runs_up_a_layer(graph):
    upward = [(a, b) for a, deps in graph.items() if a != "dcirc_utils" for b in deps
              if _layer(b) is not None and _layer(b) > _layer(a)]
    assert not upward, "imports from a lower layer to a higher one: " + ", ".join(f"{a} -> {b}" for a, b in upward)


def test_no_import_cycle(graph):
    inner = {a: {b for b in deps if b in graph and b != "dcirc_utils"} for a, deps in graph.items()
             if a != "dcirc_utils"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(inner.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(inner):
        if node not in state:
            visit(node)


def test_the_checker_sees_a_violation(tmp_path):
    """The import parser is not vacuous: it finds relative and function-level imports."""
    path = tmp_path / "x.py"
    path.write_text("def f():\n    from ..methods.discovery import prune_nodes\n")
    known = {"dcirc_utils.methods.discovery", "dcirc_utils.core.x"}
    assert _imports("dcirc_utils.core.x", path, known) == {"dcirc_utils.methods.discovery"}


def test_no_hook_name_outside_the_adapters():
    offenders = []
    for name, path in _modules().items():
        if name in ADAPTER_MODULES:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if HOOK_NAME.search(line):
                offenders.append(f"{path.relative_to(PKG.parent)}:{i}: {line.strip()}")
    assert not offenders, ("library hook names belong in the model-family adapters (models/decoder.py, "
                           "models/encoder.py):\n" + "\n".join(offenders))
    assert HOOK_NAME.search('f"blocks.{l}.attn.hook_z"') and HOOK_NAME.search("blocks.3.hook_mlp_out")
