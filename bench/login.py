"""Staff sign-in cost: argon2id alone, then full sign-ins over HTTP against the running app.

Sign-in is deliberately expensive (argon2id, 64 MiB); this shows what that costs per core so the
parameters can be tuned with numbers. Run: `make bench` (or `.venv/bin/python -m bench.login`).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.e2e.client import TOKEN
from tests.e2e.server import OWNER_PASSWORD, running_app

from adapters.security.passwords import Argon2Passwords

ROUNDS = 48
MAX_CLIENTS = 16
BENCH_PASSWORD = "bench password, long enough"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def argon2_alone() -> None:
    passwords = Argon2Passwords()
    stored = await passwords.hash(OWNER_PASSWORD)
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        await passwords.verify(stored, OWNER_PASSWORD)
        samples.append((time.perf_counter() - started) * 1000)
    print(f"argon2id verify: p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms")


async def sign_ins(url: str, clients: int) -> None:
    # One account per client: concurrent attempts on one account count against its throttle.
    async def one_client(username: str, latencies: list[float]) -> None:
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(ROUNDS // clients or 1):
                http.cookies.clear()
                token = TOKEN.search((await http.get("/login")).text).group(1)
                started = time.perf_counter()
                response = await http.post(
                    "/login", data={"username": username, "password": BENCH_PASSWORD, "_csrf_token": token}
                )
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 303, response.status_code

    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(one_client(f"bench{n}", latencies) for n in range(clients)))
    elapsed = time.perf_counter() - started
    print(
        f"sign-ins, {clients:>2} concurrent clients: {len(latencies) / elapsed:6.1f}/s, "
        f"p50 {statistics.median(latencies):6.1f} ms, p99 {percentile(latencies, 0.99):6.1f} ms"
    )


async def main(url: str) -> None:
    await argon2_alone()
    for clients in (1, 4, MAX_CLIENTS):
        await sign_ins(url, clients)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp, running_app(Path(tmp)) as server:
        for n in range(MAX_CLIENTS):
            server.add_staff(f"bench{n}", "clerk", BENCH_PASSWORD)
        print(f"embedded app (SQLite, in-process worker) at {server.url}")
        asyncio.run(main(server.url))
