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
# --no-loadscope-reorder keeps that order instead of xdist's most-tests-first). --durations=15
# puts the slowest tests (set-up, call and teardown apart) in the CI log.
# The OpenAPI fuzz test runs in a pytest of its own (schemathesis' per-operation subtests
# collapse into one test under pytest-xdist), alongside the xdist run rather than after it: alone
# it kept one core busy and left the other idle for its ~70 s. Its output follows the xdist
# run's, and each part's seconds are printed; the suite's own seconds are the wall time of both.
python_tests() {
    local start fuzz_log fuzz_pid rc fuzz_rc
    start=${EPOCHREALTIME/[.,]/}
    fuzz_log=$(mktemp)
    (
        .venv/bin/python -m pytest tests/api/test_openapi_fuzz.py --durations=15 >"$fuzz_log" 2>&1
        fuzz_rc=$?
        printf '== part python-fuzz (alongside python-xdist): %s ==\n' "$(seconds_since "$start")" \
            >>"$fuzz_log"
        exit $fuzz_rc
    ) &
    fuzz_pid=$!
    .venv/bin/python -m pytest --ignore=tests/e2e --ignore=tests/api/test_openapi_fuzz.py -n 2 --dist loadfile \
        --no-loadscope-reorder --durations=15
    rc=$?
    printf '== part python-xdist: %s ==\n' "$(seconds_since "$start")"
    wait "$fuzz_pid"
    fuzz_rc=$?
    cat "$fuzz_log"
    rm -f "$fuzz_log"
    (( rc != 0 )) && return "$rc"
    return "$fuzz_rc"
}

# seconds_since START: "12.3 s" since START (microseconds, from ${EPOCHREALTIME/[.,]/}).
seconds_since() {
    local tenths=$(( (${EPOCHREALTIME/[.,]/} - $1) / 100000 ))
    printf '%d.%d s' $(( tenths / 10 )) $(( tenths % 10 ))
}

results=()
failed=0
# record NAME RC TENTHS [NOTE]: a suite's line for the summary.
record() {
    local name=$1 rc=$2 took="$(( $3 / 10 )).$(( $3 % 10 )) s${4:+, $4}"
    printf '== suite %s: %s ==\n' "$name" "$took"
    if (( rc == 0 )); then
        results+=("$name: ok ($took)")
    else
        (( rc == 5 )) && [[ $name == python || $name == e2e ]] && rc="5, no tests collected"
        results+=("$name: FAILED (exit $rc, $took)")
        failed=$((failed + 1))
    fi
}

run_suite() {
    local name=$1 start rc
    shift
    printf '\n== suite %s: %s ==\n' "$name" "$*"
    start=${EPOCHREALTIME/[.,]/}
    "$@"
    rc=$?
    record "$name" "$rc" $(( (${EPOCHREALTIME/[.,]/} - start) / 100000 ))
}

# start_alongside NAME CMD...: start a suite in the background, its output kept for
# finish_alongside (which prints it, with the suite's own seconds, once it has ended).
declare -A alongside_pid alongside_log
start_alongside() {
    local name=$1 log
    shift
    log=$(mktemp)
    alongside_log[$name]=$log
    (
        start=${EPOCHREALTIME/[.,]/}
        "$@" >"$log" 2>&1
        rc=$?
        echo $(( (${EPOCHREALTIME/[.,]/} - start) / 100000 )) >"$log.tenths"
        exit $rc
    ) &
    alongside_pid[$name]=$!
}

finish_alongside() {
    local name=$1 note=$2 rc log=${alongside_log[$1]}
    wait "${alongside_pid[$name]}"
    rc=$?
    printf '\n== suite %s (%s) ==\n' "$name" "$note"
    cat "$log"
    record "$name" "$rc" "$(<"$log.tenths")" "$note"
    rm -f "$log" "$log.tenths"
}

began=${EPOCHREALTIME/[.,]/}
run_suite ruff .venv/bin/ruff check .
run_suite ruff-format .venv/bin/ruff format --check .
run_suite python python_tests
# mypy keeps one core busy; the UI build and the js tests leave about half the other idle.
start_alongside mypy .venv/bin/mypy
run_suite ui-build build_ui
run_suite js-formula npm run --prefix builder_ui --silent test:formula
run_suite js-unit npm run --prefix builder_ui --silent test:unit
finish_alongside mypy "alongside ui-build and the js tests"
# The browser tests keep both cores busy (Chromium's renderers most; ~3 % idle when measured):
# two workers, whole files each (a file's tests share its servers), each with its own session
# templates, CRM server and PostgreSQL cluster.
run_suite e2e .venv/bin/python -m pytest tests/e2e -n 2 --dist loadfile --no-loadscope-reorder \
    --durations=15

wall_tenths=$(( (${EPOCHREALTIME/[.,]/} - began) / 100000 ))
printf '\n== summary ==\n'
printf '%s\n' "${results[@]}"
printf 'suites: %d passed, %d failed\n' "$(( ${#results[@]} - failed ))" "$failed"
printf 'suites took %d.%d s in all (wall clock, installs aside; suites run alongside others overlap)\n' \
    $(( wall_tenths / 10 )) $(( wall_tenths % 10 ))
(( failed == 0 ))
