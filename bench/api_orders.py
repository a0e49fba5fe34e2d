"""Open API ordering throughput: K concurrent clients send signed `POST /api/v1/orders` for a product in the
local pool (delivered inside the request, codes in the answer), against PostgreSQL + Redis and one
`kaquan serve`; printed next to what pgbench reaches on the equivalent raw SQL transaction (bench/api_orders.sql:
lock and debit the wallet, sell one code, insert the order, post the purchase) in the same database, same run.

Each client sends its next order as soon as the last one answered (closed loop), for --seconds; every order has
its own out_trade_no. Prints orders/s, p50/p90/p99/max latency and any failure, then pgbench's transactions/s
with the same number of clients. Goal at 16 clients: at least 50 % of the raw rate, p99 ≤ 50 ms.

The load generator, the server, PostgreSQL and Redis share this machine's cores (the reference has 2): read the
figures as what one small box does, not as a ceiling. The queue is not consumed during the run (nothing there
is needed: delivery happens in the request; mails and callbacks are not asked for).

Last figures (2 cores, shared with another job; runs vary by ±15 %): 16 clients 45–54 orders/s, p50 250–300 ms,
p99 830–910 ms, pgbench 460–550 tx/s: 10 % (before the per-order trimming: 32.7 orders/s, 5 %); 1 client 35–45
orders/s, p50 21–27 ms, p99 38–42 ms. An order is 24 statements in 3 transactions and 15–20 ms of the web process's
CPU. What holds 16 clients back now is the one reseller's wallet row, locked from the charge to the commit (four
statements and the commit, each round trip also queueing on the busy event loop: ≈ 18 ms), not the CPU (the web
process uses ≈ 0.8 of a core); see README § Benchmarks for what would close the gap.

Run: .venv/bin/python -m bench.api_orders [--clients 16] [--seconds 10] [--log-dir DIR]
(it creates and drops its own database and Redis namespace on KAQUAN_TEST_POSTGRES_URL / KAQUAN_TEST_REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from tests.services import throwaway_postgres, throwaway_redis_namespace

from bench.delivery import app_environment, conninfo, free_port, kaquan, percentile, start, wait_until_ready
from domain.api import sign, signing_string

SKU = "BENCH-API"
PRICE = "19.80"
HERE = Path(__file__).parent
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=3)


async def client(
    base: str, key_id: str, secret: str, until: float, latencies: list[float], failures: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=base, limits=LIMITS, timeout=30) as http:
        while time.perf_counter() < until:
            body = json.dumps({"sku": SKU, "quantity": 1, "out_trade_no": secrets.token_hex(12)}).encode()
            timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
            path = "/api/v1/orders"
            headers = {
                "X-Api-Key": key_id,
                "X-Timestamp": timestamp,
                "X-Nonce": nonce,
                "X-Signature": sign(secret, signing_string(timestamp, nonce, "POST", path, body)),
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            try:
                answer = await http.post(path, content=body, headers=headers)
            except httpx.HTTPError as failed:
                failures.append(type(failed).__name__)
                continue
            if answer.status_code == 201 and answer.json()["status"] == "delivered":
                latencies.append(time.perf_counter() - started)
            else:
                failures.append(f"{answer.status_code} {answer.text[:80]}")


async def api_run(base: str, key_id: str, secret: str, clients: int, seconds: float) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    failures: list[str] = []
    # A short warm-up (connections, caches), not counted.
    await asyncio.gather(*(client(base, key_id, secret, time.perf_counter() + 1, [], []) for _ in range(clients)))
    until = time.perf_counter() + seconds
    await asyncio.gather(*(client(base, key_id, secret, until, latencies, failures) for _ in range(clients)))
    return latencies, failures


def pgbench(database_url: str, clients: int, seconds: float, product_id: int, reseller_id: int) -> float:
    done = subprocess.run(
        [
            PGBENCH, "--no-vacuum", "--client", str(clients), "--jobs", str(min(clients, os.cpu_count() or 1)),
            "--time", str(int(seconds)), "--file", str(HERE / "api_orders.sql"),
            "--define", f"product={product_id}", "--define", f"reseller={reseller_id}", conninfo(database_url),
        ],
        capture_output=True, text=True, timeout=seconds + 60, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{done.stderr}")
    found = re.search(r"tps = ([0-9.]+)", done.stdout)
    if not found:
        raise RuntimeError(f"no tps in pgbench's output:\n{done.stdout}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent API clients and pgbench clients")
    parser.add_argument("--seconds", type=float, default=10, help="how long each run lasts (default 10)")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the server log here")
    args = parser.parse_args()
    os.environ.setdefault("KAQUAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    os.environ.setdefault("KAQUAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        log_dir = args.log_dir or tmp
        log_dir.mkdir(parents=True, exist_ok=True)
        database_url = stack.enter_context(throwaway_postgres())
        redis_url, namespace = stack.enter_context(throwaway_redis_namespace())
        env = app_environment(tmp / "var", database_url, redis_url, namespace, free_port())
        env["KAQUAN_API_RATE_PER_MINUTE"] = "100000000"
        kaquan(env, "setup", "--no-demo")
        kaquan(env, "product", "create", SKU, "--name", "bench", "--face-value", "20", "--price", PRICE,
               "--kind", "voucher", "--on-sale")  # fmt: skip
        # Enough for the API run and for pgbench (which sells one code per transaction too).
        kaquan(env, "codes", "generate", "--product", SKU, "--count", str(int(args.seconds * 4000) + 20_000))
        reseller = json.loads(kaquan(env, "--json", "reseller", "create", "Bench", "--contact", "bench@example.com"))
        kaquan(env, "reseller", "topup", str(reseller["id"]), "100000000", "--note", "bench")
        key = json.loads(kaquan(env, "--json", "apikey", "create", "--reseller", str(reseller["id"])))
        product_id = json.loads(kaquan(env, "--json", "product", "list", "--search", SKU))["products"][0]["id"]
        log = log_dir / "server.log"
        server = start(stack, env, log, "serve")
        base = f"http://127.0.0.1:{env['KAQUAN_PORT']}"
        wait_until_ready(base, server, log)
        print(f"PostgreSQL + Redis, one `kaquan serve`; {os.cpu_count()} CPU cores shared with the load generator")
        latencies, failures = asyncio.run(api_run(base, key["key_id"], key["secret"], args.clients, args.seconds))
        rate = len(latencies) / args.seconds
        ms = [sample * 1000 for sample in latencies]
        if not ms:
            sys.exit(f"no order was delivered; failures: {sorted(set(failures))[:5]}")
        print(
            f"API  {args.clients} clients: {rate:7.1f} orders/s  p50 {percentile(ms, 0.5):6.1f} ms  "
            f"p90 {percentile(ms, 0.9):6.1f} ms  p99 {percentile(ms, 0.99):6.1f} ms  max {max(ms, default=0):6.1f} ms"
            f"  ({len(latencies)} delivered, {len(failures)} failed)"
        )
        for failure in sorted(set(failures))[:10]:
            print(f"  failure: {failure} ×{failures.count(failure)}")
        raw = pgbench(database_url, args.clients, args.seconds, product_id, reseller["id"])
        print(f"SQL  {args.clients} clients: {raw:7.1f} transactions/s (pgbench, bench/api_orders.sql)")
        print(f"API / SQL: {rate / raw:.0%}  (goal ≥ 50 %, p99 ≤ 50 ms)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; the app's processes, database and Redis keys are gone")
