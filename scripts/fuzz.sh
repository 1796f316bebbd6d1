#!/usr/bin/env bash
# Runs Kiln's fuzz targets (fuzz/, cargo-fuzz + libFuzzer; SECURITY.md "Fuzzing"):
#
#   scripts/fuzz.sh [TARGET...]      every target, or those named (or FUZZ_TARGETS="a b")
#
#   FUZZ_SECONDS  seconds per target (60)
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (60)
#   FUZZ_RSS_MB   memory one run may use before it counts as out-of-memory (2048)
#   FUZZ_BUILD    0: run the targets as last built in fuzz/target, without building
#                 (cargo fuzz run rebuilds after any change to src/; with 0, a long
#                 session of runs keeps fuzzing one build while the code moves on)
#
# Installs cargo-fuzz when missing (the nightly toolchain must be there), builds every
# target once, then runs each with its corpus in fuzz/corpus/TARGET, seeded from
# tests/fixtures, tests/fixtures/fuzz (earlier findings) and fuzz/seeds. Prints per
# target the executions, the corpus size, the slowest input and whether it found
# anything; a finding (crash, hang or out-of-memory) is written to
# fuzz/artifacts/TARGET/ and makes the script fail (libFuzzer's slow-unit-* files there
# are inputs slower than 10 s, not findings). Logs: fuzz/logs/.
# Each run also appends a row to fuzz/logs/runs.tsv for SECURITY.md's table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ="$ROOT/fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-60}
TIMEOUT=${FUZZ_TIMEOUT:-60}
RSS_MB=${FUZZ_RSS_MB:-2048}

say() { echo "[fuzz] $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

[[ $SECONDS_EACH =~ ^[0-9]+$ && $SECONDS_EACH -gt 0 ]] || die "FUZZ_SECONDS must be a whole number of seconds, not '$SECONDS_EACH'"
[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -gt 0 ]] || die "FUZZ_TIMEOUT must be a whole number of seconds, not '$TIMEOUT'"
[[ $RSS_MB =~ ^[0-9]+$ ]] || die "FUZZ_RSS_MB must be a whole number of MB, not '$RSS_MB'"

rustup toolchain list 2>/dev/null | grep -q '^nightly' ||
    die "cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly"
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked >&2
fi

cd "$FUZZ"
mapfile -t ALL < <(cargo +nightly fuzz list)
if (($# > 0)); then
    TARGETS=("$@")
elif [[ -n ${FUZZ_TARGETS:-} ]]; then
    read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
    TARGETS=("${ALL[@]}")
fi
for target in "${TARGETS[@]}"; do
    printf '%s\n' "${ALL[@]}" | grep -qx -- "$target" ||
        die "no fuzz target '$target'; the targets are: ${ALL[*]}"
done

# The dictionary and seed directories of each target.
dict_of() {
    case $1 in
    decode_jpeg) echo jpeg ;;
    decode_png) echo png ;;
    decode_gif) echo gif ;;
    decode_webp) echo webp ;;
    decode_tiff) echo tiff ;;
    decode_bmp) echo bmp ;;
    icc | options | multipart | reply) echo "$1" ;;
    pdf_child) echo pdf ;;
    *) echo magic ;;
    esac
}
seeds_of() {
    case $1 in
    icc) echo "$FUZZ/seeds/icc" ;;
    options | multipart | reply) echo "$FUZZ/seeds/$1" ;;
    pdf_child) echo "$ROOT/tests/fixtures $FUZZ/seeds/pdf" ;;
    *) echo "$ROOT/tests/fixtures $FUZZ/seeds/images" ;;
    esac
    [[ -d $ROOT/tests/fixtures/fuzz ]] && echo "$ROOT/tests/fixtures/fuzz"
    return 0
}

# The ICC profiles the fixtures carry (JPEG APP2, PNG iCCP, WebP ICCP) seed `icc`.
extract_profiles() {
    python3 - "$1" "$ROOT/tests/fixtures" "$FUZZ/seeds/images" <<'EOF'
import struct, sys, zlib
from pathlib import Path

out = Path(sys.argv[1])
for directory in sys.argv[2:]:
    for path in sorted(p for p in Path(directory).iterdir() if p.is_file()):
        data = path.read_bytes()
        profile = b""
        if data.startswith(b"\xff\xd8"):
            pos = 2
            while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xDA, 0xD9):
                length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
                segment = data[pos + 4 : pos + 2 + length]
                if data[pos + 1] == 0xE2 and segment.startswith(b"ICC_PROFILE\0"):
                    profile += segment[14:]
                pos += 2 + length
        elif data.startswith(b"\x89PNG"):
            pos = 8
            while pos + 8 <= len(data):
                length, kind = struct.unpack(">I4s", data[pos : pos + 8])
                if kind == b"iCCP":
                    chunk = data[pos + 8 : pos + 8 + length]
                    profile = zlib.decompress(chunk[chunk.index(b"\0") + 2 :])
                pos += 12 + length
        elif data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            pos = 12
            while pos + 8 <= len(data):
                kind, length = struct.unpack("<4sI", data[pos : pos + 8])
                if kind == b"ICCP":
                    profile = data[pos + 8 : pos + 8 + length]
                pos += 8 + length + (length & 1)
        if profile:
            (out / f"{path.name}.icc").write_bytes(profile)
EOF
}

if printf '%s\n' "${TARGETS[@]}" | grep -qx pdf_child; then
    bash "$ROOT/scripts/install-pdfium.sh" >/dev/null || die "pdf_child needs PDFium: make pdfium"
fi

BUILT="$FUZZ/target/x86_64-unknown-linux-gnu/release"
if [[ ${FUZZ_BUILD:-1} == 0 ]]; then
    for target in "${TARGETS[@]}"; do
        [[ -x $BUILT/$target ]] || die "FUZZ_BUILD=0, but $target was never built"
    done
    say "running ${#TARGETS[@]} target(s) as built at $(date -u -r "$BUILT/${TARGETS[0]}" +%FT%TZ)"
else
    say "building ${#TARGETS[@]} target(s) (the first build takes a while)"
    if ((${#TARGETS[@]} == ${#ALL[@]})); then
        cargo +nightly fuzz build >&2 || die "building the fuzz targets failed"
    else
        for target in "${TARGETS[@]}"; do
            cargo +nightly fuzz build "$target" >&2 || die "building $target failed"
        done
    fi
fi

# Crashes, hangs and out-of-memory inputs; not libFuzzer's notes of slow inputs.
findings_in() { find "$1" -type f ! -name 'slow-unit-*' | wc -l; }

mkdir -p "$FUZZ/logs"
[[ -f $FUZZ/logs/runs.tsv ]] ||
    printf 'date\ttarget\tseconds\texecutions\tcorpus\tslowest\tfindings\n' >"$FUZZ/logs/runs.tsv"
results=()
failed=0
for target in "${TARGETS[@]}"; do
    corpus="$FUZZ/corpus/$target"
    artifacts="$FUZZ/artifacts/$target"
    log="$FUZZ/logs/$target.log"
    mkdir -p "$corpus" "$artifacts"
    [[ $target == icc ]] && extract_profiles "$corpus"
    before=$(findings_in "$artifacts")
    say "$target: ${SECONDS_EACH}s"
    status=0
    options=(-max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB"
        -dict="$FUZZ/dicts/$(dict_of "$target").dict" -print_final_stats=1)
    # shellcheck disable=SC2046 # the seed directories are word-split on purpose
    if [[ ${FUZZ_BUILD:-1} == 0 ]]; then
        "$BUILT/$target" -artifact_prefix="$artifacts/" "${options[@]}" \
            "$corpus" $(seeds_of "$target") >"$log" 2>&1 || status=$?
    else
        cargo +nightly fuzz run "$target" "$corpus" $(seeds_of "$target") -- "${options[@]}" \
            >"$log" 2>&1 || status=$?
    fi
    executions=$(awk '/^stat::number_of_executed_units:/ {n = $2} END {print n}' "$log")
    size=$(find "$corpus" -type f | wc -l)
    slowest=$(awk '/^stat::slowest_unit_time_sec:/ {n = $2 "s"} END {print n}' "$log")
    found=$(($(findings_in "$artifacts") - before))
    if ((status != 0 || found > 0)); then
        failed=1
        finding=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer): [^ ]+( [^ ]+)?|panicked at [^:]+:[0-9]+' "$log" || echo "exit status $status")
        result="FOUND: $finding (fuzz/artifacts/$target/, log fuzz/logs/$target.log)"
    else
        result="nothing found"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "$SECONDS_EACH" \
        "${executions:-?}" "$size" "${slowest:-?}" "$result" >>"$FUZZ/logs/runs.tsv"
    results+=("$(printf '%-12s %6ss %12s %8s %8s  %s' "$target" "$SECONDS_EACH" "${executions:-?}" "$size" \
        "${slowest:-?}" "$result")")
    say "${results[-1]}"
done

echo
echo "target        seconds   executions   corpus  slowest  result"
printf '%s\n' "${results[@]}"
exit "$failed"
