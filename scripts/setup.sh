#!/usr/bin/env bash
# Set up hvppi in ./.venv: PyTorch 2.13.0 (CPU build where a local wheel is offered), the package
# with its test extras, and the cd-hit program used by `hvppi split` and `hvppi dataset build` (Debian/Ubuntu, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# pip's notes about absent local index folders are noise; its exit status is kept (pipefail).
quiet_pip() { .venv/bin/python -m pip install -q "$@" 2>&1 | { grep -v "is ignored" || true; }; }
# Pin torch first: a looser requirement would pull the newest build with several GB of CUDA packages.
quiet_pip "torch==2.13.0"
quiet_pip -e ".[test]"
.venv/bin/python -c "import hvppi, torch" || { echo "setup failed: hvppi or torch does not import" >&2; exit 1; }
if ! command -v cd-hit >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cd-hit) >/dev/null 2>&1 \
            || echo "warning: could not install cd-hit; 'hvppi split' and 'hvppi dataset build' need it (apt-get install cd-hit)" >&2
    else
        echo "note: cd-hit not found; 'hvppi split' and 'hvppi dataset build' need it (apt-get install cd-hit, or conda install -c bioconda cd-hit)" >&2
    fi
fi
