"""The layers of docs/design.md, read from the code's imports (every import, in functions too):
no module imports another in a circle, and no package imports one above it or beside it."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

# Lower numbers are lower layers; a package may import its own layer's modules and those below.
LAYERS = {
    "codec.base": 0,
    "codec.imaging": 1,
    "codec.quality": 2,
    "codec.lstm": 3, "codec.classical": 3,
    "codec.train": 4, "codec.rd": 4,
    "codec.study": 5,
    "codec.cli": 6,
    "gui": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for d in ("codec", "gui") for p in (ROOT / d).rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that `name` imports (a package's submodule when the name is one)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                target = f"{base}.{a.name}"
                if target in known:
                    out.add(target)
                elif base in known:
                    out.add(base)
    return out - {name}


def layer_of(name: str) -> tuple[str, int] | None:
    for package, rank in sorted(LAYERS.items(), key=lambda kv: -len(kv[0])):
        if name == package or name.startswith(package + "."):
            return package, rank
    return None


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_has_a_layer():
    homeless = [m for m in modules() if m not in ("codec", "gui") and layer_of(m) is None]
    assert not homeless, f"modules outside every layer of docs/design.md: {homeless}"


def test_no_package_imports_one_above_or_beside_it():
    wrong = []
    for name, targets in graph().items():
        own = layer_of(name)
        for t in targets:
            other = layer_of(t)
            if own and other and own[0] != other[0] and other[1] >= own[1]:
                wrong.append(f"{name} -> {t}")
    assert not wrong, "imports that run up or sideways: " + ", ".join(sorted(wrong))


def test_no_import_circles():
    g = graph()
    seen, on_path, circles = set(), [], []

    def visit(n):
        if n in on_path:
            circles.append(on_path[on_path.index(n):] + [n])
            return
        if n in seen:
            return
        seen.add(n)
        on_path.append(n)
        for t in sorted(g.get(n, ())):
            visit(t)
        on_path.pop()

    for n in sorted(g):
        visit(n)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_checker_sees_a_circle_and_an_upward_import(tmp_path, monkeypatch):
    """The rules above are only as good as the import reading: a made-up pair is caught."""
    known = {"codec.lstm.coder", "codec.rd.points"}
    low = tmp_path / "coder.py"
    low.write_text("def f():\n    from codec.rd.points import RDPoint\n")
    assert imports("codec.lstm.coder", low, known) == {"codec.rd.points"}
    assert layer_of("codec.rd.points")[1] > layer_of("codec.lstm.coder")[1]


def test_the_wheel_ships_every_package():
    """pyproject.toml lists the packages by hand: a new subpackage must be added there too."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {module_name(p) for d in ("codec", "gui") for p in (ROOT / d).rglob("__init__.py")}
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
