"""The composition root: the only place adapters are built and wired into the domain's services.

The web app, the Dramatiq workers and the CLI all start here. Building a container connects to
nothing; connections open on first use.
"""

from __future__ import annotations

import asyncio
import importlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from zoneinfo import ZoneInfo

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.asyncio import AsyncIO
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.codefiles import CodeFiles
from adapters.counters.memory import MemoryCounters
from adapters.counters.redis import RedisCounters
from adapters.db.engine import create_engine
from adapters.db.uow import SqlUnitOfWorkFactory
from adapters.keys import MissingSecrets, Secrets, load_secrets
from adapters.logging import configure_logging
from adapters.notify.mail import DebugMailer, SmtpMailer
from adapters.notify.webhooks import HttpWebhookSender
from adapters.outbound import DnsResolver
from adapters.payments.epay import EPayGateway
from adapters.queue import runtime
from adapters.queue.jobs import DramatiqJobs, RunByCaller
from adapters.security.challenges import AltchaChallenges
from adapters.security.passwords import Argon2Passwords
from adapters.security.signer import HmacSigner
from adapters.settings import Settings
from adapters.suppliers.kaquan import KaquanSupplier
from adapters.vault import AesGcmVault
from domain.operations import HEARTBEAT_EVERY
from domain.orders import OrderPolicy
from domain.ports import BotChallenges, Counters, Mailer
from domain.services.api_keys import ApiKeys
from domain.services.api_orders import ApiOrders
from domain.services.auth import SignIn
from domain.services.balance_payments import BalancePayments
from domain.services.callbacks import Callbacks
from domain.services.catalog import Catalog
from domain.services.codes import Codes
from domain.services.delivery import Delivery
from domain.services.imports import CodeImports
from domain.services.keys import KeyRotation
from domain.services.notifications import Notifications
from domain.services.operations import Operations
from domain.services.order_desk import OrderDesk
from domain.services.ordering import Ordering
from domain.services.portal import Portal
from domain.services.price_rules import PriceRules
from domain.services.redemption import Redemption
from domain.services.resellers import Resellers
from domain.services.reviews import Reviews
from domain.services.risk_desk import RiskDesk
from domain.services.risk_gate import RiskGate
from domain.services.shops import Shops
from domain.services.sourcing import MADE_WITHIN_TIMEOUTS, Sourcing
from domain.services.staff import StaffAdmin
from domain.services.stock import Stock
from domain.services.upstream_desk import UpstreamDesk
from domain.services.upstreams import Upstreams
from domain.throttle import LoginThrottle

log = structlog.get_logger(__name__)


@dataclass
class Container:
    settings: Settings
    secrets: Secrets
    engine: AsyncEngine
    redis: Redis | None
    counters: Counters
    sign_in: SignIn
    staff_admin: StaffAdmin
    operations: Operations
    catalog: Catalog
    stock: Stock
    imports: CodeImports
    codes: Codes
    key_rotation: KeyRotation
    ordering: Ordering
    delivery: Delivery
    order_desk: OrderDesk
    redemption: Redemption
    notifications: Notifications
    resellers: Resellers
    balance_payments: BalancePayments
    price_rules: PriceRules
    shops: Shops
    portal: Portal
    api_keys: ApiKeys
    api_orders: ApiOrders
    callbacks: Callbacks
    webhook_sender: HttpWebhookSender
    upstreams: Upstreams
    sourcing: Sourcing
    upstream_desk: UpstreamDesk
    supplier_client: KaquanSupplier
    challenges: BotChallenges
    reviews: Reviews
    risk_desk: RiskDesk
    _closed: bool = field(default=False, repr=False)

    def session_store(self) -> Store:
        """Server-side sessions: Redis when configured (shared by every web process), else files under var/."""
        if self.redis is not None:
            return RedisStore(self.redis, namespace=f"{self.settings.redis_namespace}:sessions")
        path = self.settings.var_dir / "sessions"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return FileStore(path)

    def store(self, name: str) -> Store:
        """A named key-value store (rate limits): shared through Redis when configured, else in memory."""
        if self.redis is not None:
            return RedisStore(self.redis, namespace=f"{self.settings.redis_namespace}:{name}")
        return MemoryStore()

    async def check_ready(self) -> dict[str, str]:
        """Each dependency's state; raises nothing, so /readyz can say exactly what is down."""
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:  # readiness reports every failure kind; the details go to the log only
            log.exception("readiness: database check failed")
            checks["database"] = "error"
        if self.redis is not None:
            try:
                await asyncio.wait_for(self.redis.ping(), timeout=2)
                checks["redis"] = "ok"
            except Exception:
                log.exception("readiness: redis check failed")
                checks["redis"] = "error"
        return checks

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.engine.dispose()
        await self.webhook_sender.aclose()
        await self.supplier_client.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def build(settings: Settings | None = None, *, queue: bool = True) -> Container:
    """Wire every adapter into the services. Cheap, and connects to nothing until used.

    `queue=False` (the CLI): background work is not queued; the caller runs it in its own process.
    """
    settings = settings or Settings()
    configure_logging(settings)
    keys = load_secrets(settings)
    if settings.is_production and settings.epay_url.startswith("/sandbox"):
        raise MissingSecrets("production mode needs KAQUAN_EPAY_URL: the sandbox gateway exists in dev mode only")
    if settings.is_production and not settings.public_url:
        # Mailed links and the gateway's notify URL must not depend on a Host header a client sent.
        raise MissingSecrets("production mode needs KAQUAN_PUBLIC_URL, e.g. https://shop.example.com")
    clock = SystemClock()
    engine = create_engine(settings.effective_database_url)
    uow = SqlUnitOfWorkFactory(engine)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    counters: Counters = RedisCounters(redis, settings.redis_namespace) if redis is not None else MemoryCounters(clock)
    passwords = Argon2Passwords()
    throttle = LoginThrottle(
        per_account=settings.login_failures_per_account,
        per_ip=settings.login_failures_per_ip,
        window=timedelta(seconds=settings.login_window_seconds),
    )
    decoy_hash = passwords.hash_now(secrets.token_urlsafe(16))
    vault = AesGcmVault(keys.code_keys, keys.fingerprint_key)
    stock = Stock(uow, vault, clock)
    jobs = DramatiqJobs() if queue else RunByCaller()
    policy = OrderPolicy(
        max_quantity=settings.order_max_quantity,
        unpaid_units_per_buyer=settings.unpaid_units_per_buyer,
        payment_window=timedelta(minutes=settings.order_payment_minutes),
        review_window=timedelta(days=settings.review_days),
    )
    gateway = EPayGateway(settings.epay_url, settings.epay_merchant_id, keys.epay_key)
    challenges = AltchaChallenges(keys.secret_key, counters, clock, max_number=settings.challenge_max_number)
    risk = RiskGate(uow, counters, challenges, clock, ZoneInfo(settings.display_timezone))
    ordering = Ordering(uow, gateway, HmacSigner(keys.secret_key), vault, jobs, clock, policy, risk)
    resellers = Resellers(uow, clock, settings.reseller_max_depth)
    resolver, allow_private = DnsResolver(), settings.allow_private_callbacks
    supplier_client = KaquanSupplier(
        resolver, allow_private=allow_private, timeout_seconds=settings.supplier_timeout_seconds
    )
    upstreams = Upstreams(
        uow, vault, supplier_client, clock, resolver, allow_private=allow_private, base_url=settings.base_url,
        sync_every=timedelta(minutes=settings.upstream_sync_minutes),
    )  # fmt: skip
    sourcing = Sourcing(
        uow, upstreams, jobs, clock,
        made_within=timedelta(seconds=MADE_WITHIN_TIMEOUTS * settings.supplier_timeout_seconds),
    )  # fmt: skip
    delivery = Delivery(uow, vault, jobs, clock, sourcing=sourcing)
    balance_payments = BalancePayments(uow, jobs, clock, policy, risk)
    webhook_sender = HttpWebhookSender()
    callbacks = Callbacks(uow, vault, webhook_sender, resolver, jobs, clock, allow_private=allow_private)
    notifications = Notifications(uow, vault, _mailer(settings), jobs, clock, settings.base_url)
    return Container(
        settings=settings,
        secrets=keys,
        engine=engine,
        redis=redis,
        counters=counters,
        sign_in=SignIn(uow, passwords, counters, clock, throttle, decoy_hash),
        staff_admin=StaffAdmin(uow, passwords, clock),
        operations=Operations(uow, clock),
        catalog=Catalog(uow, clock),
        stock=stock,
        imports=CodeImports(uow, vault, CodeFiles(), jobs, stock, clock),
        codes=Codes(uow, vault, clock),
        key_rotation=KeyRotation(uow, vault, jobs, clock),
        ordering=ordering,
        delivery=delivery,
        order_desk=OrderDesk(uow, jobs, clock),
        redemption=Redemption(uow, vault, clock),
        notifications=notifications,
        resellers=resellers,
        balance_payments=balance_payments,
        price_rules=PriceRules(uow, clock),
        shops=Shops(uow, ordering, clock),
        portal=Portal(uow, resellers, clock),
        api_keys=ApiKeys(uow, vault, counters, clock, settings.api_rate_per_minute),
        api_orders=ApiOrders(uow, balance_payments, delivery, callbacks, vault, jobs, clock, policy),
        callbacks=callbacks,
        webhook_sender=webhook_sender,
        upstreams=upstreams,
        sourcing=sourcing,
        upstream_desk=UpstreamDesk(uow, sourcing, delivery, jobs, clock),
        supplier_client=supplier_client,
        challenges=challenges,
        reviews=Reviews(uow, balance_payments, jobs, clock, policy, ordering, notifications, settings.base_url),
        risk_desk=RiskDesk(uow, clock, ZoneInfo(settings.display_timezone)),
    )


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_host is None:
        if settings.is_production:
            log.warning("KAQUAN_SMTP_HOST is not set: buyer mails are only written to the data directory")
        return DebugMailer(settings.var_dir / "mail", settings.mail_from)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        username=settings.smtp_username,
        password=password,
        starttls=settings.smtp_starttls,
    )


def install_broker(settings: Settings) -> dramatiq.Broker:
    """Choose the broker, then (and only then) load the actors onto it.

    Redis configured: the RedisBroker, consumed by `kaquan worker` processes. Otherwise an in-memory
    broker consumed by the worker thread the web process runs itself (`embedded_worker`).
    """
    broker: dramatiq.Broker
    if settings.redis_url:
        broker = RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_namespace}:dramatiq")
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(AsyncIO())
    broker.add_middleware(runtime.CloseServices())  # after AsyncIO: closes the services before the loop stops
    dramatiq.set_broker(broker)
    actors = _load_actors()
    actors.apply_settings(settings)
    for actor in vars(actors).values():
        if isinstance(actor, dramatiq.Actor) and actor.broker is not broker:
            # Re-declared when a process installs a second broker (tests build several apps).
            actor.broker = broker
            broker.declare_actor(actor)
    runtime.bind(lambda: build(settings))
    return broker


def embedded_worker(broker: dramatiq.Broker, settings: Settings) -> dramatiq.Worker:
    return dramatiq.Worker(broker, worker_threads=settings.worker_threads, worker_timeout=settings.worker_idle_poll_ms)


async def send_heartbeats(clock: SystemClock | None = None) -> None:
    """Enqueue a heartbeat now and every HEARTBEAT_EVERY, until cancelled."""
    clock = clock or SystemClock()
    heartbeat = _load_actors().heartbeat
    while True:
        await asyncio.to_thread(heartbeat.send, clock.now().isoformat())
        await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())


def _load_actors() -> ModuleType:
    return importlib.import_module("adapters.queue.actors")
