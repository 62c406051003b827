"""MkDocs hook: every public module of hvppi must appear in an API page (``::: hvppi.x.y``).

A module added to src/hvppi without a line in docs/api/*.md is a warning, so ``mkdocs build
--strict`` fails until the reference covers it. Left out on purpose: private modules (``_name``),
``__main__``, the data-only packages ``hvppi.data`` and ``hvppi.models``, and the command modules
``hvppi.cli.commands.*`` (each command documents itself with ``--help``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.check_api")

SKIPPED_PACKAGES = ("hvppi.data", "hvppi.models", "hvppi.cli.commands")


def _modules(src: Path) -> set[str]:
    names = set()
    for path in (src / "hvppi").rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if any(p.startswith("_") for p in parts) or name.startswith(SKIPPED_PACKAGES):
            continue
        names.add(name)
    return names


def on_pre_build(config) -> None:
    docs = Path(config["docs_dir"])
    src = docs.parent / "src"
    documented = set()
    for page in (docs / "api").glob("*.md"):
        documented.update(re.findall(r"^:::\s+([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M))
    for name in sorted(_modules(src) - documented):
        log.warning("hvppi module %s is not in the API reference: add '::: %s' to a page in docs/api/", name, name)
