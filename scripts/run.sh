#!/usr/bin/env bash
# Runs Jimu at http://127.0.0.1:8000 on SQLite in ./data, installing what it needs first:
# the Python package in .venv, the UI's npm packages, and the UI build (only when changed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

read -r -a needed <<< "$(python_packages_needed)"
apt_install "${needed[@]}"
ensure_venv ""
ensure_node
ensure_node_modules
ensure_ui_built

echo "Starting Jimu at http://127.0.0.1:8000 (API docs at /docs)"
exec .venv/bin/jimu serve --host 127.0.0.1 --port 8000 "$@"
