"""Helpers shared by Kiln's benchmark scripts (standard library only).

  common    BenchError, log, run, sha256, machine facts (CPU, memory, load)
  quality   pixels of any image (through vips) and PSNR against a Lanczos3 reference
  corpus    the reproducible photo/PDF corpus built from Debian packages
            (bench-processors.py measures it, loadtest.py uploads it)
  services  starting `kiln api` + `kiln worker`s on a fresh PostgreSQL
            database, a Redis namespace and S3; a small blocking HTTP client
            (bench-pipeline.py, loadtest.py)

The scripts in scripts/ import this package by name: Python puts the script's own
directory first on sys.path.
"""
