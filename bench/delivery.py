"""Delivery latency: from the payment notify being accepted to the code being visible on the redemption page.

The production path as real processes: PostgreSQL, Redis, one `kaquan serve` and `kaquan worker` with 2 worker
processes. Orders are placed by HTTP checkout first (not timed), each from its own buyer (address and device).
Then, for each offered rate (50 and 200 orders/s, 10 s each), signed EPay notifies go out on an open-loop schedule
(one every 1/rate s, never waiting for earlier ones); for each order t0 is when its notify answered "success", and
t1 is when its redemption page (/r/<token>, found by polling the order's status fragment) answered 200. Prints
p50/p90/p99/max of t1 - t0 per rate, how long notifies took to answer, and every failure. Goal: p99 ≤ 1 s.

Read the figures as an upper bound: the load generator runs on the same machine and competes with the server,
the workers, PostgreSQL and Redis for the CPU cores (the reference machine has 2), its status polls are load on
the server too, and the poll interval (printed) bounds the resolution. An order not visible 30 s after its notify
was sent counts as failed, which bounds each phase; a few warm-up orders are delivered before timing starts.
`--web 2` runs two `kaquan serve` processes (on two ports, each buyer sticking to one, as behind a balancer).

Run: .venv/bin/python -m bench.delivery [--rates 50,200] [--seconds 10] [--poll-ms 20] [--web 1] [--log-dir DIR]
(it creates and drops its own database and Redis namespace, on the services in KAQUAN_TEST_POSTGRES_URL and
KAQUAN_TEST_REDIS_URL, by default the local ones).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from sqlalchemy.engine import make_url
from tests.services import throwaway_postgres, throwaway_redis_namespace

from adapters.payments.epay import signed

KAQUAN = str(Path(sys.executable).parent / "kaquan")
SKU = "BENCH-DELIVERY"
PRICE = "19.80"
MERCHANT_ID = "1000"
WORKER_PROCESSES = 2
WARM_UP_ORDERS = 10
VISIBLE_WITHIN = 30.0  # seconds after the notify was sent; later counts as a failure
DRAIN_WITHIN = 60.0  # seconds to wait between rates for the previous one's deliveries to finish
# Below uvicorn's 5 s keep-alive: never reuse a connection the server is about to close.
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=1000, keepalive_expiry=3)
LINK = re.compile(r'href="[^"]*(/r/[^"/?#]+)"')
STATUS = re.compile(r'data-status="([a-z_]+)"')


@dataclass
class Order:
    server: str  # the web process this buyer (and the gateway's notify) reaches, as behind a load balancer
    number: str
    money: str
    status_path: str
    status_query: dict[str, str]
    headers: dict[str, str]  # the buyer's address and device cookie


@dataclass
class Outcome:
    scheduled: float
    sent: float | None = None
    accepted: float | None = None  # t0: the notify answered "success"
    linked: float | None = None  # the status fragment showed the redemption link
    visible: float | None = None  # t1: the redemption page answered 200
    polls: int = 0
    polling: float = 0.0  # seconds spent waiting for status fragments
    status: str = "no status page yet"
    failure: str | None = None


@dataclass
class Phase:
    rate: float
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_time() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the app as processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_environment(var_dir: Path, database_url: str, redis_url: str, namespace: str, port: int) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KAQUAN_") or k.startswith("KAQUAN_TEST_")}
    return {
        **inherited,
        "KAQUAN_VAR_DIR": str(var_dir),
        "KAQUAN_DATABASE_URL": database_url,
        "KAQUAN_REDIS_URL": redis_url,
        "KAQUAN_REDIS_NAMESPACE": namespace,
        "KAQUAN_PORT": str(port),
        "KAQUAN_ADMIN_PASSWORD": "bench owner password, long enough",
        "KAQUAN_EPAY_KEY": secrets.token_hex(16),
        "KAQUAN_EPAY_MERCHANT_ID": MERCHANT_ID,
        # Buyers have their own addresses (X-Forwarded-For from 127.0.0.1 is trusted), but lift the per-buyer
        # caps and rate limits anyway: this measures delivery, not the abuse guards.
        "KAQUAN_UNPAID_UNITS_PER_BUYER": "1000000",
        "KAQUAN_REDEEM_RATE_PER_MINUTE": "10000000",
        "KAQUAN_LOOKUP_RATE_PER_MINUTE": "10000000",
        "KAQUAN_ORDER_PAYMENT_MINUTES": "120",  # orders placed up front must not expire before they are paid
        "KAQUAN_WORKER_PROCESSES": str(WORKER_PROCESSES),
        "KAQUAN_LOG_LEVEL": "WARNING",
    }


def kaquan(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([KAQUAN, *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kaquan {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def start(stack: ExitStack, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A `kaquan` process that is stopped when the stack unwinds (an error or Ctrl-C too).

    In a session of its own, so that a Ctrl-C reaches only this script, which then stops it with one SIGTERM:
    Dramatiq's worker processes take a second signal during their shutdown as "exit now" and then hang on their
    threads. Whatever outlives the grace period is killed with its whole process group.
    """
    sink = stack.enter_context(log.open("w"))
    process = subprocess.Popen([KAQUAN, *args], env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        if process.poll() is not None:
            tail = "\n    ".join(log.read_text(errors="replace").splitlines()[-15:])
            print(f"`kaquan {args[0]}` had exited with status {process.returncode}; its log ends:\n    {tail}")
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # any child it left behind
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    stack.callback(stop)
    return process


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become ready:\n{log.read_text()}")


def conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def drain(database_url: str) -> float:
    """Wait until no paid order waits for delivery (twice in a row), so one rate's backlog never meets the next."""
    started = time.perf_counter()
    quiet = 0
    async with await psycopg.AsyncConnection.connect(conninfo(database_url), autocommit=True) as db:
        while quiet < 2 and time.perf_counter() - started < DRAIN_WITHIN:
            waiting = await (await db.execute("SELECT count(*) FROM orders WHERE status = 'paid'")).fetchone()
            quiet = quiet + 1 if waiting and waiting[0] == 0 else 0
            await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def queue_and_worker_ms(database_url: str, numbers: list[str]) -> list[float]:
    """Per order, from the app's own clocks: paid (notify handling began) to a worker beginning its delivery."""
    async with await psycopg.AsyncConnection.connect(conninfo(database_url), autocommit=True) as db:
        rows = await db.execute(
            "SELECT extract(epoch FROM d.delivered_at - o.paid_at) * 1000 FROM orders o"
            " JOIN deliveries d ON d.order_id = o.id WHERE o.number = ANY(%s)",
            (numbers,),
        )
        return [float(ms) for (ms,) in await rows.fetchall()]


# --- buyers and the gateway over HTTP -----------------------------------------------------------------------


async def place_orders(servers: list[str], count: int, concurrency: int = 8) -> list[Order]:
    """Checkout as browsers do, one buyer per order: the product page sets the CSRF cookie, then the form posts."""
    orders: list[Order] = []
    numbers = iter(range(count))
    async with httpx.AsyncClient(timeout=30, limits=LIMITS) as http:
        assert (await http.get(f"{servers[0]}/p/{SKU}")).status_code == 200
        csrf = http.cookies["kaquan_csrf"]  # every web process shares the secret that signs it
        http.cookies.clear()

        async def buyer() -> None:
            for n in numbers:
                server = servers[n % len(servers)]
                headers = {
                    "x-forwarded-for": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                    "cookie": f"kaquan_device={secrets.token_urlsafe(16)}",
                }
                response = await http.post(
                    f"{server}/p/{SKU}/orders",
                    data={"contact": f"bench{n}@example.com", "quantity": "1"},
                    headers={**headers, "x-csrftoken": csrf, "cookie": f"{headers['cookie']}; kaquan_csrf={csrf}"},
                )
                if response.status_code != 303:
                    raise RuntimeError(f"checkout answered {response.status_code}: {response.text[:300]}")
                orders.append(order_from_gateway_url(server, response.headers["location"], headers))

        await asyncio.gather(*(buyer() for _ in range(concurrency)))
    return orders


def order_from_gateway_url(server: str, location: str, headers: dict[str, str]) -> Order:
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    back = urlsplit(params["return_url"])  # http://host/o/<number>?k=<page key>
    return Order(
        server=server,
        number=params["out_trade_no"],
        money=params["money"],
        status_path=f"{back.path}/status",
        status_query={k: v[0] for k, v in parse_qs(back.query).items()},
        headers=headers,
    )


def notify_params(order: Order, key: str) -> dict[str, str]:
    return signed(
        {
            "pid": MERCHANT_ID,
            "trade_no": f"BENCH{secrets.token_hex(12)}",
            "out_trade_no": order.number,
            "type": "alipay",
            "name": "bench",
            "money": order.money,
            "trade_status": "TRADE_SUCCESS",
        },
        key,
    )


async def pay_and_watch(
    gateway: httpx.AsyncClient, buyer: httpx.AsyncClient, order: Order, key: str, poll: float, outcome: Outcome
) -> None:
    """Notify, then poll the order's status fragment until a redemption link shows, then open that page."""
    outcome.sent = time.perf_counter()
    answer = await gateway.get(f"{order.server}/pay/epay/notify", params=notify_params(order, key))
    if answer.status_code != 200 or answer.text != "success":
        outcome.failure = f"notify answered {answer.status_code} {answer.text[:40]!r}"
        return
    outcome.accepted = time.perf_counter()
    while True:
        outcome.polls += 1
        asked = time.perf_counter()
        page = await buyer.get(f"{order.server}{order.status_path}", params=order.status_query, headers=order.headers)
        outcome.polling += time.perf_counter() - asked
        if page.status_code != 200:
            outcome.failure = f"order status answered {page.status_code}"
            return
        if found := LINK.search(page.text):
            outcome.linked = time.perf_counter()
            break
        outcome.status = f"order {status.group(1)}" if (status := STATUS.search(page.text)) else "no status shown"
        await asyncio.sleep(poll)
    redeem = await buyer.get(f"{order.server}{found.group(1)}", headers=order.headers)
    if redeem.status_code != 200:
        outcome.failure = f"redemption page answered {redeem.status_code}"
        return
    outcome.visible = time.perf_counter()


async def one_order(
    gateway: httpx.AsyncClient, buyer: httpx.AsyncClient, order: Order, key: str, poll: float, outcome: Outcome
) -> None:
    try:
        await asyncio.wait_for(pay_and_watch(gateway, buyer, order, key, poll, outcome), VISIBLE_WITHIN)
    except TimeoutError:
        if outcome.accepted is None:
            outcome.failure = f"notify not answered within {VISIBLE_WITHIN:.0f} s"
        else:
            outcome.failure = f"not visible within {VISIBLE_WITHIN:.0f} s ({outcome.status})"
    except httpx.HTTPError as error:
        outcome.failure = f"{type(error).__name__}: {error}"


async def run_phase(orders: list[Order], rate: float, key: str, poll: float) -> Phase:
    phase = Phase(rate)
    async with (
        httpx.AsyncClient(timeout=VISIBLE_WITHIN, limits=LIMITS) as gateway,
        httpx.AsyncClient(timeout=VISIBLE_WITHIN, limits=LIMITS) as buyer,
    ):
        cpu_before = cpu_time()
        phase.started = time.perf_counter()
        async with asyncio.TaskGroup() as orders_in_flight:  # Ctrl-C cancels them all
            for i, order in enumerate(orders):
                outcome = Outcome(scheduled=phase.started + i / rate)
                phase.outcomes.append(outcome)
                delay = outcome.scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                orders_in_flight.create_task(one_order(gateway, buyer, order, key, poll, outcome))
        phase.wall_seconds = time.perf_counter() - phase.started
        phase.cpu_seconds = cpu_time() - cpu_before
    return phase


def report(phase: Phase, poll_ms: float, in_app_ms: list[float]) -> None:
    outcomes = phase.outcomes
    accepted = [o for o in outcomes if o.accepted is not None]
    done = [o for o in accepted if o.visible is not None and o.linked is not None]
    latencies = [(o.visible - o.accepted) * 1000 for o in done]
    last = max((o.accepted for o in accepted), default=phase.started)
    achieved = len(accepted) / (last - phase.started) if last > phase.started else 0.0
    send_lag = [(o.sent - o.scheduled) * 1000 for o in outcomes if o.sent is not None]
    print(
        f"offered {phase.rate:4.0f}/s × {len(outcomes)} orders: notifies accepted {len(accepted)} at"
        f" {achieved:5.1f}/s; load generator: sent late by p99 {percentile(send_lag, 0.99):.0f} ms,"
        f" used {phase.cpu_seconds / phase.wall_seconds * 100:.0f} % of a core"
    )
    if accepted:
        notify_ms = [(o.accepted - o.sent) * 1000 for o in accepted]
        print(
            f"  notify answered in            p50 {percentile(notify_ms, 0.5):6.0f} ms,"
            f" p90 {percentile(notify_ms, 0.9):6.0f} ms, p99 {percentile(notify_ms, 0.99):6.0f} ms,"
            f" max {max(notify_ms):6.0f} ms"
        )
    if latencies:
        p99 = percentile(latencies, 0.99)
        print(
            f"  notify accepted → code shown: p50 {percentile(latencies, 0.5):6.0f} ms,"
            f" p90 {percentile(latencies, 0.9):6.0f} ms, p99 {p99:6.0f} ms, max {max(latencies):6.0f} ms"
            f" ({len(latencies)} orders) — goal p99 ≤ 1000 ms: {'met' if p99 <= 1000 else 'MISSED'}"
        )
        redeem_ms = [(o.visible - o.linked) * 1000 for o in done]
        polls = sum(o.polls for o in done)
        print(
            f"  of which: {polls / len(done):.1f} status polls per order (every {poll_ms:g} ms),"
            f" each answered in {sum(o.polling for o in done) * 1000 / polls:.0f} ms on average;"
            f" the redemption page answered in p50 {percentile(redeem_ms, 0.5):.0f} ms,"
            f" p99 {percentile(redeem_ms, 0.99):.0f} ms"
        )
    if in_app_ms:
        print(
            f"  paid → a worker began delivering (database clocks): p50 {percentile(in_app_ms, 0.5):.0f} ms,"
            f" p99 {percentile(in_app_ms, 0.99):.0f} ms, max {max(in_app_ms):.0f} ms ({len(in_app_ms)} orders)"
        )
    if achieved < 0.9 * phase.rate:
        print("  the app did not keep up with the offered rate: these latencies are mostly queueing")
    for failure, count in Counter(o.failure for o in outcomes if o.failure).most_common():
        print(f"  FAILED {count:>5} × {failure}")


def log_problems(logs: list[Path]) -> None:
    """Warnings and errors the server and workers logged, counted by line."""
    problems: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if re.search(r"\b(warning|error|critical|exception|traceback)\b", line, re.IGNORECASE):
                problems[f"{log.stem}: {line.strip()[:160]}"] += 1
    if problems:
        print(f"server/worker logs: {sum(problems.values())} warning/error lines, the most common:")
        for line, count in problems.most_common(8):
            print(f"  {count:>5} × {line}")
    else:
        print("server/worker logs: no warnings or errors")


# --- putting it together -------------------------------------------------------------------------------------


async def measure(
    servers: list[str], key: str, database_url: str, rates: list[float], seconds: float, poll: float
) -> None:
    counts = [round(rate * seconds) for rate in rates]
    started = time.perf_counter()
    orders = await place_orders(servers, WARM_UP_ORDERS + sum(counts))
    print(f"placed {len(orders)} orders by HTTP checkout in {time.perf_counter() - started:.1f} s (not timed)")
    warm_up = await run_phase(orders[:WARM_UP_ORDERS], 10, key, poll)
    if any(o.failure for o in warm_up.outcomes):
        report(warm_up, poll * 1000, [])
        raise RuntimeError("the warm-up orders were not delivered")
    offset = WARM_UP_ORDERS
    for n, (rate, count) in enumerate(zip(rates, counts, strict=True)):
        if n:
            waited = await drain(database_url)
            if waited > 2:
                print(f"  (waited {waited:.0f} s for the previous rate's deliveries to finish)")
        await asyncio.sleep(1)
        timed = orders[offset : offset + count]
        offset += count
        phase = await run_phase(timed, rate, key, poll)
        report(phase, poll * 1000, await queue_and_worker_ms(database_url, [order.number for order in timed]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,200", help="offered notify rates, orders/s (default 50,200)")
    parser.add_argument("--seconds", type=float, default=10, help="how long each rate is offered (default 10)")
    parser.add_argument("--poll-ms", type=float, default=20, help="order status poll interval (default 20)")
    parser.add_argument(
        "--web", type=int, default=1, help="`kaquan serve` processes, each buyer sticking to one (default 1)"
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the server and worker logs here")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    total = WARM_UP_ORDERS + sum(round(rate * args.seconds) for rate in rates)
    os.environ.setdefault("KAQUAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    os.environ.setdefault("KAQUAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        log_dir = args.log_dir or tmp
        log_dir.mkdir(parents=True, exist_ok=True)
        database_url = stack.enter_context(throwaway_postgres())
        redis_url, namespace = stack.enter_context(throwaway_redis_namespace())
        env = app_environment(tmp / "var", database_url, redis_url, namespace, free_port())
        kaquan(env, "setup", "--no-demo")
        kaquan(env, "product", "create", SKU, "--name", "bench", "--face-value", "20", "--price", PRICE,
               "--kind", "voucher", "--on-sale")  # fmt: skip
        kaquan(env, "codes", "generate", "--product", SKU, "--count", str(total + 100))
        logs, servers = [log_dir / "worker.log"], []
        start(stack, env, logs[0], "worker", "--processes", str(WORKER_PROCESSES))
        for n in range(args.web):
            port = env["KAQUAN_PORT"] if n == 0 else str(free_port())
            logs.append(log_dir / f"server-{n + 1}.log")
            server = start(stack, env, logs[-1], "serve", "--port", port)
            servers.append(f"http://127.0.0.1:{port}")
            wait_until_ready(servers[-1], server, logs[-1])
        print(
            f"PostgreSQL + Redis, {args.web} `kaquan serve`, `kaquan worker` with {WORKER_PROCESSES} processes;"
            f" {os.cpu_count()} CPU cores, shared with this load generator; status polled every {args.poll_ms:g} ms"
        )
        try:
            asyncio.run(
                measure(servers, env["KAQUAN_EPAY_KEY"], database_url, rates, args.seconds, args.poll_ms / 1000)
            )
        finally:
            log_problems(logs)
            if args.log_dir:
                print(f"logs kept in {args.log_dir}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; the app's processes, database and Redis keys are gone")
