# Shared set-up steps of run.sh and test.sh; sourced, never run. Expects the repo root as cwd.

log() { printf '>> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

apt_updated=""
apt_install() {
    (( $# )) || return 0
    command -v apt-get >/dev/null 2>&1 || die "missing $*, and no apt-get to install it"
    if [[ -z $apt_updated ]]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
        apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        || die "apt-get install $* failed"
}

python_ok() {
    python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

# Prints the apt packages a working `python3 -m venv` (Python >= 3.11) still needs.
python_packages_needed() {
    [[ -x .venv/bin/python ]] && return 0
    python_ok && return 0
    command -v python3 >/dev/null 2>&1 || { echo python3 python3-venv; return 0; }
    echo python3-venv
}

# ensure_venv EXTRAS: .venv at the repo root with `pip install -e .[EXTRAS]` done.
# Re-installs only when pyproject.toml or the extras change, so re-runs cost nothing.
ensure_venv() {
    local extras=$1 spec=. stamp
    [[ -n $extras ]] && spec=".[$extras]"
    if [[ ! -x .venv/bin/python ]]; then
        python_ok || die "python3 >= 3.11 with venv is needed (Debian: apt-get install python3-venv)"
        log "python3 -m venv .venv"
        python3 -m venv .venv || die "could not create .venv"
    fi
    stamp="$(sha256sum pyproject.toml | cut -d' ' -f1) $spec"
    if [[ -x .venv/bin/jimu && -f .venv/.jimu-installed && $(<.venv/.jimu-installed) == "$stamp" ]]; then
        return 0
    fi
    log "pip install -e '$spec'"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" \
        || die "pip install -e '$spec' failed"
    printf '%s\n' "$stamp" > .venv/.jimu-installed
}

# ensure_node: `node` and `npm` on the PATH (Debian's packages when missing).
ensure_node() {
    command -v node >/dev/null 2>&1 || apt_install nodejs
    # Debian's nodejs comes without npm; NodeSource's bundles it and conflicts with Debian's npm.
    command -v npm >/dev/null 2>&1 || apt_install npm
}

# ensure_node_modules: `npm ci` in builder_ui/, again only when package-lock.json changed.
ensure_node_modules() {
    local stamp=builder_ui/node_modules/.jimu-installed lock_hash
    lock_hash=$(sha256sum builder_ui/package-lock.json | cut -d' ' -f1)
    if [[ -f $stamp && $(<"$stamp") == "$lock_hash" ]]; then
        return 0
    fi
    log "npm ci (builder_ui)"
    (cd builder_ui && npm ci --no-audit --no-fund) || die "npm ci in builder_ui failed"
    printf '%s\n' "$lock_hash" > "$stamp"
}

# Hash of everything the UI build reads: its sources, config and lock file.
ui_sources_hash() {
    find builder_ui/src builder_ui/public builder_ui/index.html builder_ui/vite.config.ts \
        builder_ui/tsconfig.json builder_ui/package.json builder_ui/package-lock.json builder_ui/openapi.json -type f ! -name schema.d.ts -print0 \
        | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

# build_ui: `npm run build` into builder_ui/dist, stamping what it was built from.
build_ui() {
    local hash
    hash=$(ui_sources_hash)
    (cd builder_ui && npm run build --silent) || return 1
    printf '%s\n' "$hash" > builder_ui/dist/.jimu-built
}

# ensure_ui_built: builder_ui/dist up to date with the sources (rebuilt only when they changed).
ensure_ui_built() {
    local stamp=builder_ui/dist/.jimu-built
    if [[ -f builder_ui/dist/index.html && -f $stamp && $(<"$stamp") == "$(ui_sources_hash)" ]]; then
        return 0
    fi
    log "npm run build (builder_ui)"
    build_ui || die "building the UI in builder_ui failed"
}
