#!/usr/bin/env bash
# mypy --strict on the pure layers. The source folders are mapped onto the `wattfleet` namespace in
# .mypy-src/ (directory links, so new files are seen) because mypy cannot read setuptools' package-dir.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .mypy-src/wattfleet
for p in core agent tui profiles; do ln -sfn "../../$p" ".mypy-src/wattfleet/$p"; done
ln -sfn ../../protos/wattfleet/v1 .mypy-src/wattfleet/v1
pkgs=(-p wattfleet.core -p wattfleet.agent.telemetry -p wattfleet.tui.fleet)
pkgs+=(-p wattfleet.agent.figures -m wattfleet.agent.workloads.loadgen_logs)
pkgs+=(-p wattfleet.agent.workloads.traffic)
exec "${VENV:-.venv}/bin/mypy" "${pkgs[@]}" "$@"
