#!/usr/bin/env bash
# Installs what the tests need (only what is missing), then runs every suite and summarises.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

have_postgres_server() {
    [[ -n ${JIMU_TEST_POSTGRES_URL:-} ]] && return 0
    local bindir
    for bindir in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin; do
        [[ -x $bindir/initdb && -x $bindir/postgres ]] && return 0
    done
    return 1
}

# The browser tests drive Debian's Chromium; fonts-noto-cjk renders the Chinese in screenshots.
have_cjk_fonts() {
    dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'install ok installed'
}

read -r -a needed <<< "$(python_packages_needed)"
have_postgres_server || needed+=(postgresql)
command -v node >/dev/null 2>&1 || needed+=(nodejs)
[[ -x /usr/bin/chromium ]] || needed+=(chromium)
have_cjk_fonts || needed+=(fonts-noto-cjk)
apt_install "${needed[@]}"
ensure_node

ensure_venv "dev,bench"
ensure_node_modules

# Two workers, each with its own throwaway PostgreSQL server; whole modules go to one worker so
# module fixtures (installed apps) are built once, longest files first (tests/file_order.py;
# --no-loadscope-reorder keeps that order instead of xdist's most-tests-first). The OpenAPI
# fuzz test runs on its own: schemathesis' per-operation subtests collapse into one test under
# pytest-xdist. --durations=15 puts the slowest tests (set-up, call and teardown apart) in the
# CI log.
python_tests() {
    .venv/bin/python -m pytest --ignore=tests/e2e --ignore=tests/api/test_openapi_fuzz.py -n 2 --dist loadfile \
        --no-loadscope-reorder --durations=15 || return
    .venv/bin/python -m pytest tests/api/test_openapi_fuzz.py --durations=15
}

results=()
failed=0
total_tenths=0
run_suite() {
    local name=$1 start rc tenths
    shift
    printf '\n== suite %s: %s ==\n' "$name" "$*"
    start=${EPOCHREALTIME/[.,]/}
    "$@"
    rc=$?
    tenths=$(( (${EPOCHREALTIME/[.,]/} - start) / 100000 ))
    local took="$(( tenths / 10 )).$(( tenths % 10 )) s"
    printf '== suite %s: %s ==\n' "$name" "$took"
    total_tenths=$(( total_tenths + tenths ))
    if (( rc == 0 )); then
        results+=("$name: ok ($took)")
    else
        (( rc == 5 )) && [[ $name == python || $name == e2e ]] && rc="5, no tests collected"
        results+=("$name: FAILED (exit $rc, $took)")
        failed=$((failed + 1))
    fi
}

run_suite ruff .venv/bin/ruff check .
run_suite ruff-format .venv/bin/ruff format --check .
run_suite mypy .venv/bin/mypy
run_suite python python_tests
run_suite ui-build build_ui
run_suite js-formula npm run --prefix builder_ui --silent test:formula
run_suite js-unit npm run --prefix builder_ui --silent test:unit
# The browser tests wait on the network, the server and Chromium more than they compute: two
# workers, whole files each (a file's tests share its servers), each with its own session
# templates, CRM server and PostgreSQL cluster.
run_suite e2e .venv/bin/python -m pytest tests/e2e -n 2 --dist loadfile --no-loadscope-reorder \
    --durations=15

printf '\n== summary ==\n'
printf '%s\n' "${results[@]}"
printf 'suites: %d passed, %d failed\n' "$(( ${#results[@]} - failed ))" "$failed"
printf 'suites took %d.%d s in all (installs aside)\n' $(( total_tenths / 10 )) $(( total_tenths % 10 ))
(( failed == 0 ))
