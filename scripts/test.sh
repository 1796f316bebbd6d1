#!/usr/bin/env bash
# Kiln's test command (`make test`): the same test suite in two modes, one after the other.
#
#   1. embedded: SQLite file, local storage directory, in-process queue. No service
#      environment variables at all (DATABASE_URL, REDIS_URL, MINIO_*, TEST_* unset).
#   2. services: real PostgreSQL, Redis and an S3-compatible server (s3s-fs), all on
#      loopback. PostgreSQL and Redis are started if they do not answer (as root, with
#      the machine's own commands); s3s-fs via scripts/s3-server.sh. The tests receive
#        KILN_TEST_MODE=services
#        TEST_DATABASE_URL   admin URL; each test creates (and drops) its own database
#        KILN_TEST_RUN       a random id in the names of this run's databases, which
#                            are all dropped after it
#        TEST_REDIS_URL
#        TEST_S3_ENDPOINT, TEST_S3_ACCESS_KEY, TEST_S3_SECRET_KEY, TEST_S3_BUCKET
#
# `all` (the default) runs embedded mode, then services mode with only the
# integration tests (`--test '*'`): the unit and doc tests touch no service, and
# embedded mode has run them.
#
# Usage:
#   scripts/test.sh [all|embedded|services] [-- CARGO TEST ARGS...]
#   scripts/test.sh up      start PostgreSQL, Redis and s3s-fs if needed, run no tests,
#                           print the services-mode exports:  eval "$(scripts/test.sh up)"
#
# Examples:
#   scripts/test.sh                              both modes
#   scripts/test.sh services -- --test api       one test binary, services mode
#   scripts/test.sh embedded -- upload -- --nocapture
#
# Both modes need PDFium, s3s-fs (private S3 servers), aiosmtpd (private SMTP servers
# that receive Kiln's mail), tuspy (a tus client) and Chromium with chromedriver (the
# web UI's browser tests); each is installed on first use. aiosmtpd and tuspy come
# from PyPI into a virtualenv,
# target/test-venv, which the tests find there (or via KILN_TEST_PYTHON); Chromium and
# chromedriver are Debian's packages (apt-get, as root or through sudo).
#
# Overrides: TEST_DATABASE_URL and TEST_REDIS_URL, if already set, replace the
# defaults below for services mode; KILN_S3_* configure s3s-fs (see s3-server.sh);
# RUST_TEST_THREADS, the tests run at once (default: one more than the cores).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DEFAULT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
DEFAULT_REDIS_URL=redis://127.0.0.1:6379
DATABASE_URL_FOR_TESTS=${TEST_DATABASE_URL:-$DEFAULT_DATABASE_URL}
REDIS_URL_FOR_TESTS=${TEST_REDIS_URL:-$DEFAULT_REDIS_URL}
SERVICE_WAIT=${KILN_SERVICE_WAIT:-30} # seconds to wait for a service we started
AIOSMTPD_VERSION=1.4.6
TUSPY_VERSION=1.1.0
SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
STANDARDWEBHOOKS_VERSION=1.3.0
TEST_VENV=$ROOT/target/test-venv

# Everything that could point the app or the tests at a service.
SERVICE_VARS=(
    DATABASE_URL REDIS_URL
    MINIO_ENDPOINT MINIO_ACCESS_KEY MINIO_SECRET_KEY MINIO_BUCKET
    KILN_TEST_MODE KILN_TEST_RUN TEST_DATABASE_URL TEST_REDIS_URL
    TEST_S3_ENDPOINT TEST_S3_ACCESS_KEY TEST_S3_SECRET_KEY TEST_S3_BUCKET
)

log() { echo "[test.sh] $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
header() {
    echo
    echo "================================================================"
    echo "== $*"
    echo "================================================================"
}
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds or time runs out.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what did not answer within ${seconds}s"
        sleep 0.5
    done
}

# The tests' Python packages, pinned, in a virtualenv of their own (installed
# once): aiosmtpd, the SMTP server that receives Kiln's mail; tuspy, a tus
# client that uploads to /api/uploads; openapi-spec-validator, which checks
# /api/openapi.json; schemathesis, which holds the API to that document; and
# standardwebhooks, with which the tests' receiver checks webhook signatures.
ensure_test_venv() {
    local python=$TEST_VENV/bin/python
    local packages=(
        "aiosmtpd==$AIOSMTPD_VERSION" "tuspy==$TUSPY_VERSION"
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
        "schemathesis==$SCHEMATHESIS_VERSION"
        "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
    )
    if [[ -x $python ]] && "$python" -c "
import sys, importlib.metadata as m
wanted = [p.split('==') for p in sys.argv[1:]]
sys.exit(any(m.version(name) != version for name, version in wanted))" "${packages[@]}" 2>/dev/null; then
        return
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 not found (the mail and tus tests run Python)"
    log "installing ${packages[*]} into $TEST_VENV"
    [[ -x $python ]] || python3 -m venv "$TEST_VENV" ||
        die "cannot create a virtualenv in $TEST_VENV (Debian: apt-get install python3-venv)"
    "$python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >&2
}

# The web UI tests' browser: Debian's headless-capable Chromium and its chromedriver
# (/usr/bin/chromium, /usr/bin/chromedriver), installed once with apt-get.
ensure_chromium() {
    [[ -x /usr/bin/chromedriver && -x /usr/bin/chromium ]] ||
        bash "$ROOT/scripts/apt-install.sh" chromium chromium-driver
    [[ -x /usr/bin/chromedriver && -x /usr/bin/chromium ]] ||
        die "apt-get installed chromium but /usr/bin/chromium or /usr/bin/chromedriver is missing"
}

# The metrics test's Prometheus (and promtool, for scripts/check-docker.sh):
# Debian's prometheus package, installed once.
ensure_prometheus() {
    command -v prometheus >/dev/null 2>&1 || bash "$ROOT/scripts/apt-install.sh" prometheus
    command -v prometheus >/dev/null 2>&1 || die "apt-get installed prometheus but it is not on PATH"
}

postgres_ready() { pg_isready -q -d "$DATABASE_URL_FOR_TESTS"; }
redis_ready() { [[ $(redis-cli -u "$REDIS_URL_FOR_TESTS" ping 2>/dev/null) == PONG ]]; }

ensure_postgres() {
    command -v pg_isready >/dev/null 2>&1 || die "pg_isready not found (Debian package postgresql-client)"
    if postgres_ready; then
        log "PostgreSQL answers at $DATABASE_URL_FOR_TESTS"
        return
    fi
    local start_hint="pg_ctlcluster --skip-systemctl-redirect <version> main start"
    is_root || die "PostgreSQL does not answer at $DATABASE_URL_FOR_TESTS; start it (as root: $start_hint)"
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /etc/postgresql ]]; then
        die "PostgreSQL does not answer at $DATABASE_URL_FOR_TESTS and pg_ctlcluster is not available to start it"
    fi
    local version
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)
    [[ -n $version ]] || die "no PostgreSQL cluster under /etc/postgresql"
    log "PostgreSQL does not answer; running: pg_ctlcluster --skip-systemctl-redirect $version main start"
    # Fails harmlessly ("already running") if it is only slow to accept connections.
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for "$SERVICE_WAIT" "PostgreSQL at $DATABASE_URL_FOR_TESTS" postgres_ready
    log "PostgreSQL answers at $DATABASE_URL_FOR_TESTS"
}

ensure_redis() {
    command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found (Debian package redis-tools)"
    if redis_ready; then
        log "Redis answers at $REDIS_URL_FOR_TESTS"
        return
    fi
    is_root || die "Redis does not answer at $REDIS_URL_FOR_TESTS; start it (redis-server --daemonize yes --port 6379 ...)"
    command -v redis-server >/dev/null 2>&1 ||
        die "Redis does not answer at $REDIS_URL_FOR_TESTS and redis-server is not installed"
    log "Redis does not answer; starting redis-server on 127.0.0.1:6379 (no persistence)"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for "$SERVICE_WAIT" "Redis at $REDIS_URL_FOR_TESTS" redis_ready
    log "Redis answers at $REDIS_URL_FOR_TESTS"
}

# Start whatever is missing and set the services-mode variables in this shell.
services_up() {
    ensure_postgres
    ensure_redis
    bash "$ROOT/scripts/s3-server.sh" start
    eval "$(bash "$ROOT/scripts/s3-server.sh" env)"
    export KILN_TEST_MODE=services
    export TEST_DATABASE_URL=$DATABASE_URL_FOR_TESTS
    export TEST_REDIS_URL=$REDIS_URL_FOR_TESTS
}

print_services_env() {
    local name
    for name in KILN_TEST_MODE TEST_DATABASE_URL TEST_REDIS_URL \
        TEST_S3_ENDPOINT TEST_S3_ACCESS_KEY TEST_S3_SECRET_KEY TEST_S3_BUCKET; do
        printf 'export %s=%q\n' "$name" "${!name}"
    done
}

run_embedded() {
    header "embedded mode: SQLite + local storage + in-process queue"
    echo "   cargo test --workspace ${CARGO_ARGS[*]}"
    echo "   (unset: ${SERVICE_VARS[*]})"
    (
        unset "${SERVICE_VARS[@]}"
        cargo test --workspace "${CARGO_ARGS[@]}"
    )
}

# $1: "all" when embedded mode runs too, so the tests that involve no service (the
# unit tests and doc tests) are left to it and only the integration tests run here.
run_services() {
    local selection=()
    [[ $1 == all && ${#CARGO_ARGS[@]} -eq 0 ]] && selection=(--test '*')
    header "services mode: PostgreSQL + Redis + S3 (s3s-fs) on loopback"
    (
        unset "${SERVICE_VARS[@]}"
        services_up
        # Names this run's databases, which drop_test_databases removes after it.
        KILN_TEST_RUN=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
        export KILN_TEST_RUN
        echo "   KILN_TEST_MODE=$KILN_TEST_MODE"
        echo "   TEST_DATABASE_URL=$TEST_DATABASE_URL"
        echo "   TEST_REDIS_URL=$TEST_REDIS_URL"
        echo "   TEST_S3_ENDPOINT=$TEST_S3_ENDPOINT TEST_S3_BUCKET=$TEST_S3_BUCKET" \
            "TEST_S3_ACCESS_KEY=$TEST_S3_ACCESS_KEY TEST_S3_SECRET_KEY=(hidden)"
        echo "   cargo test --workspace ${selection[*]} ${CARGO_ARGS[*]}"
        local status=0
        cargo test --workspace "${selection[@]}" "${CARGO_ARGS[@]}" || status=$?
        drop_test_databases
        return "$status"
    )
}

# The test databases this run left behind (named kiln_test_$KILN_TEST_RUN_...): a
# test drops its own database without waiting for it (tests/api/support/app.rs),
# so the drops still under way when a test process exits, and each process's
# migrated template, end here. Another run's databases are left alone.
drop_test_databases() {
    command -v psql >/dev/null 2>&1 || return 0
    local names name
    names=$(psql "$TEST_DATABASE_URL" -Atc \
        "SELECT datname FROM pg_database WHERE datname LIKE 'kiln\_test\_${KILN_TEST_RUN}\_%'") || return 0
    for name in $names; do
        psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
}

MODE=all
CARGO_ARGS=()
while (($# > 0)); do
    case $1 in
        all | embedded | services | up) MODE=$1 ;;
        --)
            shift
            CARGO_ARGS=("$@")
            break
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1' (expected all, embedded, services or up; cargo test arguments go after --)" ;;
    esac
    shift
done

case $MODE in
    up)
        (
            unset "${SERVICE_VARS[@]}"
            services_up >&2
            print_services_env
        )
        exit 0
        ;;
    all) MODES=(embedded services) ;;
    *) MODES=("$MODE") ;;
esac

command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"

# One test thread more than the machine has cores, unless RUST_TEST_THREADS says
# otherwise: the tests spend much of their time waiting on other processes
# (processor children, `kiln` roles, Chromium, schemathesis). On this 2-core
# machine 3 threads took the API suite from 347 s to 259 s in services mode and
# from 198 s to 177 s in embedded mode; 4 were slower than 3 (BENCHMARKS.md,
# "Time to first use").
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-$(($(nproc) + 1))}

# docker/ cannot be run here (no Docker engine); its static checks take seconds.
if [[ $MODE == all ]]; then
    header "docker/: static checks (scripts/check-docker.sh)"
    bash "$ROOT/scripts/check-docker.sh"
fi

# Both modes render PDFs (pdf_thumbnail), start private S3 servers for the
# outage tests, private SMTP servers for the mail tests, a browser for the web
# UI tests and Prometheus for the metrics test, so both need PDFium, s3s-fs,
# aiosmtpd, Chromium and Prometheus installed.
log "PDFium: $(bash "$ROOT/scripts/install-pdfium.sh")"
bash "$ROOT/scripts/s3-server.sh" install >&2
ensure_test_venv
ensure_chromium
ensure_prometheus
export KILN_TEST_PYTHON=$TEST_VENV/bin/python

# One mode after the other: run side by side (tried, 2026-12-06) they finished
# sooner, but the two cores were then so busy that timing-bound tests failed
# (BENCHMARKS.md, "Time to first use").
declare -A RESULT
failed=0
for mode in "${MODES[@]}"; do
    started=$SECONDS
    # Not `if run_...`: errexit is ignored inside an if condition, even in subshells.
    set +e
    (
        set -e
        case $mode in
            embedded) run_embedded ;;
            services) run_services "$MODE" ;;
        esac
    )
    status=$?
    set -e
    if ((status == 0)); then
        RESULT[$mode]="ok ($((SECONDS - started))s)"
    else
        RESULT[$mode]="FAILED, exit $status ($((SECONDS - started))s)"
        failed=1
    fi
done

header "summary"
for mode in "${MODES[@]}"; do
    printf '   %-9s %s\n' "$mode:" "${RESULT[$mode]}"
done
exit "$failed"
