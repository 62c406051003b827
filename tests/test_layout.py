"""The package's shape: subpackages only, and imports that flow from lower layers to higher ones."""

from __future__ import annotations

import ast
from pathlib import Path

import hvppi

PACKAGE = Path(hvppi.__file__).parent
LAYERS = ["io", "align", "datasets", "pretrained", "ppi", "geometry", "web", "cli"]
"""Lowest first: a module may import from its own layer and the ones before it."""


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; use absolute hvppi.* imports")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "hvppi" or name.startswith("hvppi.")}


def test_no_module_at_the_top_but_init_and_version():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "_version.py"]
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert set(LAYERS) <= subpackages


def test_imports_flow_from_lower_layers_to_higher():
    problems = []
    for layer in LAYERS:
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for module in _imports(path):
                parts = module.split(".")
                if len(parts) == 1 or parts[1] in ("_version", "data", "models"):
                    continue
                if parts[1] not in allowed:
                    problems.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not problems, "\n".join(problems)


def test_geometry_reaches_the_predictor_only_through_the_embedder_interface():
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / "geometry").rglob("*.py")
        if any(m.startswith("hvppi.ppi") for m in _imports(path))
    )
    assert users in ([], ["geometry/embedders.py"])


def test_public_api_resolves():
    assert "load_model" in hvppi.__all__ and "read_sequences" in hvppi.__all__
    for name in hvppi.__all__:
        assert getattr(hvppi, name) is not None, name
