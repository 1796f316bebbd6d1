#!/usr/bin/env bash
# Installs libpdfium.so for the pdf_thumbnail processor and prints its path.
#
# Debian has no PDFium package, but the PyPI wheel `pypdfium2` carries a self-contained
# `pypdfium2_raw/libpdfium.so` (needs only libc, libm, libpthread, libgcc_s). We fetch
# the pinned wheel with pip (PyPI is the only network it uses), unzip that one file into
# ${PDFIUM_DIR:-.pdfium}/libpdfium.so, and never need Python at run time.
#
# Idempotent: if the library is already there (and is the pinned version), it does nothing.
# Kiln finds it through PDFIUM_LIBRARY, defaulting to .pdfium/libpdfium.so.
set -euo pipefail

PYPDFIUM2_VERSION="5.15.2"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${PDFIUM_DIR:-.pdfium}"
case "$dir" in
    /*) ;;
    *) dir="$repo_root/$dir" ;;
esac
lib="$dir/libpdfium.so"
stamp="$dir/VERSION"

if [[ -s "$lib" && -f "$stamp" && "$(cat "$stamp")" == "pypdfium2 $PYPDFIUM2_VERSION" ]]; then
    echo "$lib"
    exit 0
fi

pip_cmd=()
if command -v pip3 >/dev/null 2>&1; then
    pip_cmd=(pip3)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    pip_cmd=(python3 -m pip)
else
    echo "install-pdfium: needs pip (apt-get install python3-pip) to fetch the pypdfium2 wheel" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "install-pdfium: downloading pypdfium2==$PYPDFIUM2_VERSION from PyPI" >&2
"${pip_cmd[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "pypdfium2==$PYPDFIUM2_VERSION" -d "$tmp" >&2

wheel="$(find "$tmp" -maxdepth 1 -name 'pypdfium2-*.whl' | head -n 1)"
if [[ -z "$wheel" ]]; then
    echo "install-pdfium: pip downloaded no pypdfium2 wheel for this platform" >&2
    exit 1
fi

# Extract only the library; python3's zipfile module stands in when unzip is absent.
python3 - "$wheel" "$tmp/libpdfium.so" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("pypdfium2_raw/libpdfium.so") as src, \
        open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF

if [[ ! -s "$tmp/libpdfium.so" ]]; then
    echo "install-pdfium: the wheel has no pypdfium2_raw/libpdfium.so" >&2
    exit 1
fi

mkdir -p "$dir"
# Move into place atomically so a concurrent reader never sees half a library.
install -m 0644 "$tmp/libpdfium.so" "$lib.partial"
mv -f "$lib.partial" "$lib"
echo "pypdfium2 $PYPDFIUM2_VERSION" >"$stamp"
echo "$lib"
