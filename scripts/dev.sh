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
    promtool_where_possible
}

# The /metrics test lints with promtool, and tests/prometheus runs the server itself; both come in
# Debian's prometheus package. Install it when we are root on a Debian-like system and either is
# missing; elsewhere say nothing (the tests skip and say why).
promtool_where_possible() {
    command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
    echo "installing Debian's prometheus package (promtool and the server, for tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; } \
        || echo "could not install prometheus; the promtool and Prometheus server tests will skip" >&2
}

case "${1:-}" in
    setup)
        setup ;;
    demo)
        shift; setup
        exec "$VENV/bin/wattfleet" demo "$@" ;;
    test)
        shift; setup
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
