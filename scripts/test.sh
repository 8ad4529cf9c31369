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

read -r -a needed <<< "$(python_packages_needed)"
have_postgres_server || needed+=(postgresql)
command -v node >/dev/null 2>&1 || needed+=(nodejs)
apt_install "${needed[@]}"
# Debian's nodejs comes without npm; NodeSource's bundles it and conflicts with Debian's npm.
command -v npm >/dev/null 2>&1 || apt_install npm

ensure_venv "dev,bench"

if [[ -f builder_ui/package-lock.json ]]; then
    lock_hash=$(sha256sum builder_ui/package-lock.json | cut -d' ' -f1)
    stamp=builder_ui/node_modules/.jimu-installed
    if [[ ! -f $stamp || $(<"$stamp") != "$lock_hash" ]]; then
        log "npm ci (builder_ui)"
        (cd builder_ui && npm ci --no-audit --no-fund) || die "npm ci in builder_ui failed"
        mkdir -p builder_ui/node_modules
        printf '%s\n' "$lock_hash" > "$stamp"
    fi
fi

results=()
failed=0
run_suite() {
    local name=$1 start rc tenths
    shift
    printf '\n== suite %s: %s ==\n' "$name" "$*"
    start=${EPOCHREALTIME/[.,]/}
    "$@"
    rc=$?
    tenths=$(( (${EPOCHREALTIME/[.,]/} - start) / 100000 ))
    printf '== suite %s: %d.%d s ==\n' "$name" $(( tenths / 10 )) $(( tenths % 10 ))
    if (( rc == 0 )); then
        results+=("$name: ok")
    else
        (( rc == 5 )) && [[ $name == python ]] && rc="5, no tests collected"
        results+=("$name: FAILED (exit $rc)")
        failed=$((failed + 1))
    fi
}

run_suite ruff .venv/bin/ruff check .
run_suite mypy .venv/bin/mypy
run_suite python .venv/bin/python -m pytest
if [[ -f builder_ui/package.json ]]; then
    run_suite js npm test --prefix builder_ui
fi

printf '\n== summary ==\n'
printf '%s\n' "${results[@]}"
printf 'suites: %d passed, %d failed\n' "$(( ${#results[@]} - failed ))" "$failed"
(( failed == 0 ))
