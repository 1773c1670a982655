"""The architecture's rules, checked on the source: small modules and functions, imports only go down, no cycles,
tests mirror modules, and docs/architecture.md names every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "assistant_stream"
TESTS = ROOT / "tests"

# Highest first; a module may import from its own layer and from every layer below it, never above.
LAYERS = ("entry", "web", "chat", "providers", "files", "nextcloud", "store", "core", "root")
ENTRY_MODULES = {"__main__", "check", "healthcheck"}  # `python -m assistant_stream[.check|.healthcheck]`
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
MAX_COMPONENT_LINES = 250  # a Vue component (issue 12); long stylesheets go in a .css file beside it

# Modules without a test module of their own, and where they are tested instead.
UNTESTED = {
    "core/events.py": "typed dataclasses only; every engine and chat test uses them",
    "nextcloud/server.py": "wires nextcloud/*; tests/nextcloud/* build it in the `nc` fixture",
    "store/models.py": "table definitions; tests/store/test_database.py and test_migrations.py check the schema",
    "store/coordination_scripts.py": "Lua source only; tests/store/test_coordination_redis.py runs every script",
    "store/storage.py": "the query classes in one object; tests/store/test_sessions|messages|answers.py",
    "web/services.py": "the composition root; every test that starts the app runs it",
}
# Test folders that exercise the whole app rather than one module (nextcloud_real: on a real Nextcloud).
WHOLE_APP = {"system", "browser", "interop", "support", "nextcloud_real"}


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def name_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    if len(parts) == 2 and parts[1] in ENTRY_MODULES:
        return "entry"
    return parts[1]


def imports(path: Path) -> set[str]:
    """Every assistant_stream module ``path`` imports, anywhere in it (functions and TYPE_CHECKING included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name_of(path) if path.name == "__init__.py" else name_of(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("assistant_stream")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("assistant_stream"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
    return {m for m in found if _is_module(m)} | {_owner(m) for m in found if not _is_module(m) and _owner(m)}


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _owner(name: str) -> str:
    while name and not _is_module(name):
        name = name.rpartition(".")[0]
    return name


def test_no_module_is_over_300_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_vue_component_is_over_250_lines() -> None:
    components = sorted((ROOT / "src").rglob("*.vue"))
    long = {str(p.relative_to(ROOT)): n for p in components
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_COMPONENT_LINES}
    assert len(components) > 10 and long == {}


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = length
    assert long == {}


def test_every_module_belongs_to_a_layer() -> None:
    assert {layer_of(name_of(p)) for p in modules()} <= set(LAYERS)
    assert {layer_of(name_of(p)) for p in modules()} == set(LAYERS)


def test_imports_only_go_down() -> None:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = []
    for path in modules():
        here = name_of(path)
        for target in imports(path):
            if rank[layer_of(target)] < rank[layer_of(here)]:
                upward.append(f"{here} ({layer_of(here)}) imports {target} ({layer_of(target)})")
    assert upward == []


def test_no_import_cycles() -> None:
    graph = {name_of(p): {t for t in imports(p) if t != name_of(p)} for p in modules()}
    # A package's __init__ is imported with each of its modules: only edges between modules count.
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _mirror(path: Path) -> Path:
    rel = path.relative_to(PACKAGE)
    return TESTS.joinpath(*rel.parts[:-1], f"test_{rel.stem.strip('_')}.py")


def test_every_module_has_its_test_module() -> None:
    missing = [str(p.relative_to(PACKAGE)) for p in modules()
               if p.name != "__init__.py" and not _mirror(p).is_file() and str(p.relative_to(PACKAGE)) not in UNTESTED]
    assert missing == []
    assert all((PACKAGE / path).is_file() for path in UNTESTED)


def test_every_test_module_mirrors_a_module() -> None:
    mirrors = {_mirror(p) for p in modules()} | {TESTS / "store" / "test_migrations.py"}
    orphans = [str(t.relative_to(TESTS)) for t in TESTS.rglob("test_*.py")
               if t.relative_to(TESTS).parts[0] not in WHOLE_APP and t != Path(__file__) and t not in mirrors]
    assert orphans == []


def test_test_modules_import_helpers_only_from_tests_support() -> None:
    pattern = re.compile(r"^\s*(?:from|import)\s+tests\.(?!support\b)(\S+)", re.MULTILINE)
    offenders = {str(t.relative_to(TESTS)): pattern.findall(t.read_text(encoding="utf-8"))
                 for t in TESTS.rglob("*.py") if pattern.search(t.read_text(encoding="utf-8"))}
    assert offenders == {}


def test_the_apps_sse_decoder_is_the_only_sse_parser_in_the_tests() -> None:
    parsing = re.compile(r"aiter_lines\(|startswith\(\s*b?[\"']data:|split\(\s*b?[\"']\\n\\n")
    offenders = [str(t.relative_to(ROOT)) for t in [*TESTS.rglob("*.py"), *(ROOT / "bench").glob("*.py")]
                 if parsing.search(t.read_text(encoding="utf-8"))]
    assert offenders == []


def test_shared_helpers_are_written_once() -> None:
    sources = [*TESTS.rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    for helper in ("free_port", "sse_events", "new_chat", "wait_done", "read_stream", "text_of", "collect"):
        defined = [str(p.relative_to(ROOT)) for p in sources
                   if re.search(rf"^(async )?def {helper}\(", p.read_text(encoding="utf-8"), re.MULTILINE)]
        assert len(defined) <= 1 or (helper == "new_chat" and defined == sorted(
            ["tests/support/chat.py", "tests/system/test_proxy_doubles.py"])), (helper, defined)


def test_docs_name_every_module_with_one_line() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    def line_name(path: Path) -> str:  # a subpackage's __init__ is named by its folder: "core/"
        rel = path.relative_to(PACKAGE)
        return f"{rel.parent}/" if rel.name == "__init__.py" and rel.parent != Path() else str(rel)

    missing = [line_name(p) for p in modules()
               if not re.search(rf"^\s*{re.escape(line_name(p))}\s+\S", doc, re.MULTILINE)]
    assert missing == []
    assert " > ".join(LAYERS[1:-1]) in doc  # the direction of imports, as this test enforces it
