#!/usr/bin/env bash
# One door for developers and CI.
#   scripts/dev.sh demo    set up, then start a real agent and a client that discovers it
#   scripts/dev.sh test    set up, then lint (ruff), type-check (mypy) and run every test
#   scripts/dev.sh setup   only create .venv and install wattfleet with its dev extra
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${WATTFLEET_VENV:-.venv}"
PY="${PYTHON:-python3}"

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "creating $VENV with $("$PY" --version)" >&2
        "$PY" -m venv "$VENV"
    fi
    # Reinstall only when pyproject.toml changed since the last install.
    stamp="$VENV/.wattfleet-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip >&2
        "$VENV/bin/python" -m pip install -q -e '.[dev]' >&2
        touch "$stamp"
    fi
}

# Tests use real programs from Debian's packages: prometheus (the server and promtool), chromium (HTML
# screenshots), tmux (the console as a person sees it), shellcheck (scripts/gpu_check.sh). Install the
# missing ones when we are root on a Debian-like system; elsewhere say nothing (each test skips and says why).
DEBIAN_TOOLS=("prometheus:prometheus" "promtool:prometheus" "chromium:chromium" "tmux:tmux" "shellcheck:shellcheck")
system_tools_where_possible() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
    local missing=() item
    for item in "${DEBIAN_TOOLS[@]}"; do
        command -v "${item%%:*}" >/dev/null 2>&1 || missing+=("${item#*:}")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "installing Debian packages the tests use: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 \
             && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } \
        || echo "could not install ${missing[*]}; the tests that need them will skip and say why" >&2
}

case "${1:-}" in
    setup)
        setup ;;
    demo)
        shift; setup
        exec "$VENV/bin/wattfleet" demo "$@" ;;
    test)
        shift; setup; system_tools_where_possible
        echo "== ruff" >&2
        "$VENV/bin/ruff" check .
        echo "== mypy" >&2
        VENV="$VENV" scripts/mypy.sh
        echo "== pytest" >&2
        exec "$VENV/bin/python" -m pytest "$@" ;;
    *)
        echo "usage: scripts/dev.sh {demo|test|setup} [args...]" >&2
        exit 2 ;;
esac
