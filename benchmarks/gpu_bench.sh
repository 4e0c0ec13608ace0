#!/bin/sh
# The GPU benchmark with the project's Python ($IG4_VENV or .venv from tools/ig4.py, else python3); args pass on.
cd "$(dirname "$0")/.." && V="${IG4_VENV:-.venv}" && exec "$([ -x "$V/bin/python" ] && echo "$V/bin/python" || echo python3)" benchmarks/gpu_bench.py "$@"
