"""A 1,000,000-code import end to end: read, seal (AES-GCM), fingerprint, dedupe, store.

Runs the real `kaquan codes import` in a child process and prints rows/s and the child's peak memory,
on SQLite and, when KAQUAN_TEST_POSTGRES_URL is set, on PostgreSQL. Goal: at most 60 s and 300 MB.
Run: .venv/bin/python -m bench.imports [--rows N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.services import throwaway_postgres

KAQUAN = str(Path(sys.executable).parent / "kaquan")


def write_file(path: Path, rows: int) -> None:
    """Card number and PIN per line, with a header, as suppliers send them; written streaming."""
    with path.open("w", encoding="utf-8") as out:
        out.write("卡号,密码\n")
        for n in range(rows):
            out.write(f"BENCH-{n:010d}-{(n * 7919) % 100000:05d},{n % 1000000:06d}\n")


def import_once(label: str, env: dict[str, str], file: Path, rows: int) -> None:
    def kaquan(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KAQUAN, *args], env=env, capture_output=True, text=True, check=True)

    kaquan("setup", "--no-demo")
    kaquan("product", "create", "BENCH", "--name", "bench", "--face-value", "10", "--price", "9")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = kaquan("--json", "codes", "import", str(file), "--product", "BENCH", "--source", "bench")
    elapsed = time.perf_counter() - started
    peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    imported = '"imported": ' + str(rows)
    status = "ok" if imported in done.stdout else f"unexpected result: {done.stdout[:200]}"
    print(
        f"  {label:<10} {rows:>9} rows in {elapsed:6.1f} s = {rows / elapsed:8.0f} rows/s,"
        f" peak {peak_mb:5.0f} MB ({status})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("KAQUAN_") or k.startswith("KAQUAN_TEST_")}
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "codes.csv"
        write_file(file, args.rows)
        print(f"file: {args.rows} rows, {file.stat().st_size / 2**20:.0f} MB")
        import_once("sqlite", {**base, "KAQUAN_VAR_DIR": f"{tmp}/sqlite"}, file, args.rows)
        if os.environ.get("KAQUAN_TEST_POSTGRES_URL"):
            with throwaway_postgres() as url:
                env = {**base, "KAQUAN_VAR_DIR": f"{tmp}/pg", "KAQUAN_DATABASE_URL": url}
                import_once("postgresql", env, file, args.rows)


if __name__ == "__main__":
    main()
