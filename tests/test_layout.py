"""The package's shape: subpackages that name the parts, imports that flow from lower layers to higher ones, one
scorer interface, and modules and functions of a size a reader can hold."""

from __future__ import annotations

import ast
from pathlib import Path

import hvppi

PACKAGE = Path(hvppi.__file__).parent
REPO = PACKAGE.parents[1]
LAYERS = [
    "io",
    "align",
    "datasets",
    "pretrained",
    "evaluation",
    "scoring",
    "lstm",
    "screening",
    "registry",
    "geometry",
    "web",
    "cli",
]
"""Lowest first: a module may import from its own layer and the ones before it."""
MODEL_FAMILIES = ("lstm", "screening")
"""Each model family has its own room; neither imports the other, and callers above reach them through the
scorer interface (hvppi.scoring.interface) and hvppi.registry."""
MAX_MODULE_LINES = 850
MAX_FUNCTION_LINES = 80


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; use absolute hvppi.* imports")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "hvppi" or name.startswith("hvppi.")}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_at_the_top_but_init_and_version():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "_version.py"]
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert set(LAYERS) <= subpackages
    assert subpackages - set(LAYERS) <= {"models", "data"}, "a new subpackage needs a place in LAYERS"


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


def test_model_families_do_not_import_each_other():
    problems = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for family in MODEL_FAMILIES
        for path in sorted((PACKAGE / family).rglob("*.py"))
        for module in _imports(path)
        if any(module.startswith(f"hvppi.{other}") for other in MODEL_FAMILIES if other != family)
    ]
    assert not problems, "\n".join(problems)


def test_callers_use_the_scorer_interface_not_isinstance():
    """No caller above the model families asks which kind of model it has."""
    problems = []
    for layer in ("scoring", "registry", "web", "cli"):
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for node in ast.walk(_tree(path)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
                    names = ast.unparse(node.args[1]) if len(node.args) > 1 else ""
                    if any(k in names for k in ("ScreeningModel", "InteractionModel", "Scorer")):
                        problems.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: isinstance(..., {names})")
    assert not problems, "\n".join(problems)


def test_geometry_reaches_no_model_family():
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / "geometry").rglob("*.py")
        if any(m.startswith(("hvppi.lstm", "hvppi.screening")) for m in _imports(path))
    )
    assert users == []


def test_modules_and_functions_are_of_a_readable_size():
    problems = []
    for path in _sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{path.relative_to(PACKAGE)}: {lines} lines")
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != "add_arguments":
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length} lines")
    assert not problems, "\n".join(problems)


def test_no_import_of_another_modules_private_names():
    problems = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.module}.{alias.name}"
        for path in _sources()
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hvppi")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not problems, "\n".join(problems)


def test_no_sys_path_edits_in_tests_scripts_or_benchmarks():
    problems = [
        f"{path.relative_to(REPO)}"
        for folder in ("tests", "scripts", "benchmarks", "src")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path.name != "test_layout.py" and "sys.path." in path.read_text(encoding="utf-8")
    ]
    assert not problems, "\n".join(problems)


def test_public_api_resolves_and_is_listed_once():
    assert "load_model" in hvppi.__all__ and "read_sequences" in hvppi.__all__ and "load_scorer" in hvppi.__all__
    assert len(hvppi.__all__) == len(set(hvppi.__all__))
    for name in hvppi.__all__:
        assert getattr(hvppi, name) is not None, name
