#!/usr/bin/env bash
# Local S3-compatible server for Kiln's "services" test mode.
#
# Runs s3s-fs (https://crates.io/crates/s3s-fs), a small S3 server that keeps
# objects in a directory and really verifies SigV4 signatures and presigned URLs
# (tampered or expired -> 403). A bucket is a top-level directory of the data dir.
#
#   scripts/s3-server.sh install  install s3s-fs if missing and print its path
#   scripts/s3-server.sh start    install s3s-fs if missing, start it unless the port
#                                 already answers, create the bucket, wait until ready
#   scripts/s3-server.sh stop     stop the server started by `start` (via its pid file)
#   scripts/s3-server.sh status   say whether it is running and answering
#   scripts/s3-server.sh check    signed HeadBucket request (needs python3): exit 0 if
#                                 the credentials are accepted and the bucket exists
#   scripts/s3-server.sh env      print the `export TEST_S3_...` lines the tests read
#                                 (use: eval "$(scripts/s3-server.sh env)")
#
# Settings (environment, with defaults):
#   KILN_S3_DIR=/tmp/kiln-s3          data directory (pid file and log sit next to it:
#                                     $KILN_S3_DIR.pid, $KILN_S3_DIR.log)
#   KILN_S3_HOST=127.0.0.1            address to listen on
#   KILN_S3_PORT=9100
#   KILN_S3_ACCESS_KEY=kiln-test
#   KILN_S3_SECRET_KEY=kiln-test-secret
#   KILN_S3_BUCKET=kiln-test
#   KILN_S3_START_TIMEOUT=20          seconds to wait for the port to answer
#   KILN_S3_BIN                       path to an s3s-fs binary (default: PATH, then
#                                     ~/.cargo/bin; installed with cargo if absent)
set -euo pipefail

S3S_VERSION=0.14.1

DIR=${KILN_S3_DIR:-/tmp/kiln-s3}
DIR=$(realpath -m "${DIR%/}")
HOST=${KILN_S3_HOST:-127.0.0.1}
PORT=${KILN_S3_PORT:-9100}
ACCESS_KEY=${KILN_S3_ACCESS_KEY:-kiln-test}
SECRET_KEY=${KILN_S3_SECRET_KEY:-kiln-test-secret}
BUCKET=${KILN_S3_BUCKET:-kiln-test}
START_TIMEOUT=${KILN_S3_START_TIMEOUT:-20}
PIDFILE="$DIR.pid"
LOGFILE="$DIR.log"
ENDPOINT="http://$HOST:$PORT"

log() { echo "[s3-server] $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# Path of the s3s-fs binary, or empty if there is none yet.
find_binary() {
    if [[ -n ${KILN_S3_BIN:-} ]]; then
        echo "$KILN_S3_BIN"
    elif command -v s3s-fs >/dev/null 2>&1; then
        command -v s3s-fs
    elif [[ -n ${CARGO_INSTALL_ROOT:-} && -x $CARGO_INSTALL_ROOT/bin/s3s-fs ]]; then
        echo "$CARGO_INSTALL_ROOT/bin/s3s-fs"
    elif [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs ]]; then
        echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
    fi
}

ensure_binary() {
    BIN=$(find_binary)
    if [[ -n $BIN ]]; then
        [[ -x $BIN ]] || die "KILN_S3_BIN=$BIN is not an executable file"
        return
    fi
    command -v cargo >/dev/null 2>&1 || die "s3s-fs is not installed and cargo is not on PATH"
    log "s3s-fs not found; installing s3s-fs@$S3S_VERSION with cargo (takes about 5 minutes, once per machine)"
    cargo install "s3s-fs@$S3S_VERSION" --features binary --locked
    BIN=$(find_binary)
    [[ -n $BIN ]] || die "cargo install finished but s3s-fs is neither on PATH nor in ${CARGO_HOME:-$HOME/.cargo}/bin"
}

# True if something accepts TCP connections on HOST:PORT.
port_open() {
    # shellcheck disable=SC2016 # $1/$2 expand in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$HOST" "$PORT" 2>/dev/null
}

# Pid from the pid file if that process is alive and is an s3s-fs; empty otherwise.
recorded_pid() {
    local pid
    [[ -f $PIDFILE ]] || return 0
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    if kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == s3s-fs* ]]; then
        echo "$pid"
    fi
}

# The recorded pid if that s3s-fs also listens on our port with our data dir.
our_pid() {
    local pid args
    pid=$(recorded_pid)
    [[ -n $pid ]] || return 0
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
    if [[ " $args " == *" --port $PORT "* && " $args " == *" $DIR "* ]]; then
        echo "$pid"
    fi
}

# Signed (SigV4) HeadBucket with the configured credentials, python3 standard library only.
check() {
    if ! command -v python3 >/dev/null 2>&1; then
        log "python3 not found; skipping the signed request check"
        return 0
    fi
    python3 - "$ENDPOINT" "$ACCESS_KEY" "$SECRET_KEY" "$BUCKET" <<'PY'
import datetime, hashlib, hmac, sys, urllib.error, urllib.request

endpoint, access_key, secret_key, bucket = sys.argv[1:5]
host = endpoint.split("://", 1)[1].rstrip("/")
region, service = "us-east-1", "s3"
amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
day = amz_date[:8]
payload_hash = hashlib.sha256(b"").hexdigest()
signed_headers = "host;x-amz-content-sha256;x-amz-date"
canonical = "\n".join([
    "HEAD", "/" + bucket, "",
    "host:" + host, "x-amz-content-sha256:" + payload_hash, "x-amz-date:" + amz_date, "",
    signed_headers, payload_hash,
])
scope = f"{day}/{region}/{service}/aws4_request"
to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(canonical.encode()).hexdigest()])

def mac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()

key = mac(mac(mac(mac(("AWS4" + secret_key).encode(), day), region), service), "aws4_request")
signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
request = urllib.request.Request(endpoint.rstrip("/") + "/" + bucket, method="HEAD", headers={
    "x-amz-content-sha256": payload_hash,
    "x-amz-date": amz_date,
    "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                     f"SignedHeaders={signed_headers}, Signature={signature}",
})
try:
    status = urllib.request.urlopen(request, timeout=5).status
except urllib.error.HTTPError as e:
    status = e.code
except OSError as e:
    sys.exit(f"[s3-server] error: no answer from {endpoint}: {e}")
if status == 200:
    print(f"[s3-server] signed HeadBucket {endpoint}/{bucket}: 200 OK", file=sys.stderr)
    sys.exit(0)
hint = {403: "the server rejected the credentials (is another server with other keys on this port?)",
        404: "bucket missing (is another server with another data dir on this port?)"}
sys.exit(f"[s3-server] error: signed HeadBucket {endpoint}/{bucket} returned {status}: "
         + hint.get(status, "unexpected status"))
PY
}

start() {
    mkdir -p "$DIR/$BUCKET"
    local pid
    pid=$(our_pid)
    if port_open; then
        if [[ -n $pid ]]; then
            log "already running (pid $pid) on $ENDPOINT, data in $DIR"
        else
            log "something already listens on $ENDPOINT (not started by this script); using it"
        fi
        check
        return
    fi
    if [[ -n $pid ]]; then
        die "s3s-fs pid $pid is alive but $ENDPOINT does not answer; see $LOGFILE or run: $0 stop"
    fi
    pid=$(recorded_pid)
    if [[ -n $pid ]]; then
        die "$PIDFILE names s3s-fs pid $pid, which serves another port or directory; stop it first or choose another KILN_S3_DIR"
    fi
    rm -f "$PIDFILE"
    ensure_binary

    log "starting $BIN on $ENDPOINT (data $DIR, bucket $BUCKET, log $LOGFILE)"
    local launcher=()
    # Own session: a Ctrl-C in the terminal running the tests does not take the server down.
    command -v setsid >/dev/null 2>&1 && launcher=(setsid)
    # Started from /: s3s-fs resolves paths against its working directory, and
    # the checkout that started it may be deleted while it serves.
    (cd / && exec "${launcher[@]}" nohup "$BIN" --host "$HOST" --port "$PORT" \
        --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$DIR" \
        </dev/null >>"$LOGFILE" 2>&1) &
    pid=$!
    echo "$pid" >"$PIDFILE"

    local deadline=$((SECONDS + START_TIMEOUT))
    until port_open; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            log "s3s-fs exited during start-up; last lines of $LOGFILE:"
            tail -n 20 "$LOGFILE" >&2 || true
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            log "$ENDPOINT did not answer within ${START_TIMEOUT}s; last lines of $LOGFILE:"
            tail -n 20 "$LOGFILE" >&2 || true
            kill "$pid" 2>/dev/null || true
            rm -f "$PIDFILE"
            exit 1
        fi
        sleep 0.2
    done
    log "ready (pid $pid)"
    check
}

stop() {
    local pid
    pid=$(our_pid)
    if [[ -z $pid ]]; then
        if [[ -n $(recorded_pid) ]]; then
            log "$PIDFILE names s3s-fs pid $(recorded_pid), which serves another port or directory; left alone"
        else
            rm -f "$PIDFILE"
        fi
        if port_open; then
            log "no s3s-fs started by this script; $ENDPOINT answers but belongs to another process, left alone"
        else
            log "not running"
        fi
        return 0
    fi
    log "stopping s3s-fs (pid $pid)"
    kill "$pid"
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "pid $pid still alive after 10s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$PIDFILE"
    log "stopped"
}

status() {
    local pid
    pid=$(our_pid)
    if port_open; then
        log "$ENDPOINT answers${pid:+ (pid $pid, started by this script)}"
    else
        log "$ENDPOINT does not answer${pid:+ although pid $pid is alive}"
        return 1
    fi
}

print_env() {
    printf 'export TEST_S3_ENDPOINT=%q\n' "$ENDPOINT"
    printf 'export TEST_S3_ACCESS_KEY=%q\n' "$ACCESS_KEY"
    printf 'export TEST_S3_SECRET_KEY=%q\n' "$SECRET_KEY"
    printf 'export TEST_S3_BUCKET=%q\n' "$BUCKET"
}

case "${1:-}" in
    install) ensure_binary && echo "$BIN" ;;
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    status) status ;;
    check) check ;;
    env) print_env ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
