# Kiln developer commands. `make help` lists them.
#
#   make run        Kiln with the embedded defaults: http://127.0.0.1:8080, data in ./data
#   make test       the whole suite, embedded mode then services mode (scripts/test.sh)
#
# Pass extra arguments to cargo test with ARGS, e.g.
#   make test-services ARGS="--test api -- --nocapture"

SHELL := /bin/bash
CARGO ?= cargo
ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help run build test test-embedded test-services services-up migrate \
	fmt lint pdfium nasm s3-start s3-stop s3-status bench bench-processors bench-criterion \
	bench-boundary bench-inprocess bench-pipeline bench-delivery bench-upload docker-check fuzz

help: ## list the targets
	@echo "Kiln make targets:"
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-17s %s\n", $$1, $$2}'

run: pdfium nasm ## run `kiln serve` (API + web UI + workers) on http://127.0.0.1:8080, data in ./data
	$(CARGO) run --bin kiln -- serve

pdfium: ## install libpdfium.so (for PDF previews) into .pdfium/ from the pypdfium2 wheel
	@bash scripts/install-pdfium.sh >/dev/null

nasm: ## install nasm (Debian), which assembles rav1e's SIMD kernels for AVIF at build time
	@command -v nasm >/dev/null 2>&1 || bash scripts/apt-install.sh nasm

build: nasm ## release build of the kiln binary (target/release/kiln)
	$(CARGO) build --release --bin kiln

test: nasm ## run the test suite in embedded mode, then against PostgreSQL/Redis/S3
	bash scripts/test.sh all $(if $(ARGS),-- $(ARGS))

test-embedded: nasm ## tests against SQLite + local storage + in-process queue only
	bash scripts/test.sh embedded $(if $(ARGS),-- $(ARGS))

test-services: nasm ## tests against PostgreSQL, Redis and s3s-fs on loopback only
	bash scripts/test.sh services $(if $(ARGS),-- $(ARGS))

services-up: ## start PostgreSQL, Redis and s3s-fs if needed; print the test env exports
	@bash scripts/test.sh up

migrate: nasm ## apply database migrations (DATABASE_URL, or the embedded SQLite file)
	$(CARGO) run --bin kiln -- migrate up

fmt: ## format all code
	$(CARGO) fmt --all

docker-check: ## static checks of docker/ (compose schema, promtool, dashboard schema and queries, hadolint); no Docker engine needed
	bash scripts/check-docker.sh

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

fuzz: nasm ## run every fuzz target FUZZ_SECONDS (60) each, or FUZZ_TARGETS="a b"; `make fuzz-TARGET` runs one (SECURITY.md)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" bash scripts/fuzz.sh

fuzz-%: nasm
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh $*

lint: nasm ## rustfmt check + clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

s3-start: ## start the local S3-compatible test server (s3s-fs on 127.0.0.1:9100)
	bash scripts/s3-server.sh start

s3-stop: ## stop the local S3-compatible test server
	bash scripts/s3-server.sh stop

s3-status: ## is the local S3-compatible test server answering?
	bash scripts/s3-server.sh status

bench: bench-processors bench-criterion bench-boundary bench-inprocess bench-pipeline bench-delivery bench-upload ## run every benchmark; results go in BENCHMARKS.md

bench-processors: pdfium ## `kiln process` vs vipsthumbnail, vips, cwebp, pdftoppm on a Debian-built corpus (ARGS= more options)
	$(CARGO) build --release --bin kiln
	$(or $(BENCH_PYTHON),python3) scripts/bench-processors.py --binary target/release/kiln $(ARGS)

bench-criterion: pdfium ## criterion benches of each processor in process (cargo bench --bench processors)
	$(CARGO) bench --bench processors

bench-boundary: pdfium ## a small thumbnail, a 12 MP resize and a PDF page in process against the same jobs through a `kiln processor` child
	$(CARGO) bench --bench boundary

bench-inprocess: pdfium ## thumbnails of the camera-like corpus in process on one core: the criterion group against pyvips (libvips)
	python3 scripts/bench-inprocess.py $(ARGS)

bench-pipeline: pdfium ## uploads/s and jobs/s for 200 small JPEGs, then dispatch latency at light load, embedded and services (ARGS= more options)
	$(CARGO) build --release --bin kiln
	bash scripts/s3-server.sh start
	python3 scripts/bench-pipeline.py --mode both --repeat 3 --binary target/release/kiln $(ARGS)
	python3 scripts/bench-pipeline.py --mode both --dispatch 200 --binary target/release/kiln

bench-delivery: pdfium nasm ## transforms (/t/...) against thumbor: cold transforms/s, warm req/s with wrk, single flight (ARGS= more options)
	$(CARGO) build --release --bin kiln
	python3 scripts/bench-delivery.py --binary target/release/kiln $(ARGS)

bench-upload: nasm ## one 2 GiB upload through /api/upload, embedded and services: MiB/s and the api's peak RSS growth (ARGS= more options)
	$(CARGO) build --release --bin kiln
	bash scripts/s3-server.sh start
	python3 scripts/bench-upload.py --mode both $(ARGS)

.PHONY: loadtest
loadtest: pdfium ## upload a photo/PNG/PDF mix for 60 s to `kiln api` + 2 workers on PostgreSQL/Redis/S3 (ARGS="--duration 120 --concurrency 32 ...")
	$(CARGO) build --release --bin kiln
	bash scripts/s3-server.sh install >/dev/null
	python3 scripts/loadtest.py --binary target/release/kiln $(ARGS)
