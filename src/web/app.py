"""The Litestar app factory. `kaquan serve` runs it through uvicorn's factory mode."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import structlog
from jinja2 import Environment
from litestar import Litestar, Router, get
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.security.session_auth import SessionAuth
from litestar.static_files import create_static_files_router
from litestar.stores.file import FileStore
from litestar.template.config import TemplateConfig
from litestar.types import Middleware, OnAppInitHandler

from adapters import bootstrap
from adapters.bootstrap import Container
from adapters.payments.sandbox import SandboxGateway
from domain.money import Money
from domain.staff import LOCALES, ROLE_PERMISSIONS, Permission, StaffMember
from web.api import OpenApi
from web.auth import (
    CSRF_COOKIE,
    PUBLIC_URL,
    SESSION_MAX_AGE,
    RotatingSessionBackend,
    RotatingSessionConfig,
    client_network,
    member_of_session,
)
from web.controllers.admin import AdminController
from web.controllers.auth import AuthController
from web.controllers.challenge import challenge
from web.controllers.health import healthz, readyz
from web.controllers.new_orders import NewOrderController
from web.controllers.orders import OrderController
from web.controllers.payments import PaymentNotifyController
from web.controllers.portal import PortalController
from web.controllers.portal_api import PortalApiController
from web.controllers.portal_orders import PortalOrderController
from web.controllers.portal_purchases import PortalPurchaseController
from web.controllers.portal_resellers import PortalResellerController
from web.controllers.portal_shop import PortalShopController
from web.controllers.price_rules import PriceRuleController
from web.controllers.products import ProductController
from web.controllers.redeem import RedeemController
from web.controllers.reseller_shop import ResellerShopController, ShopLookupController
from web.controllers.resellers import ResellerController
from web.controllers.reviews import ReviewController
from web.controllers.risk import RiskController
from web.controllers.sandbox import SandboxController
from web.controllers.shop import LookupController, ShopController
from web.controllers.staff import StaffController
from web.controllers.stock import StockController
from web.controllers.supplier_webhooks import SupplierWebhookController
from web.controllers.suppliers import SupplierController
from web.errors import exception_handlers
from web.i18n import locale_of, template_gettext
from web.middleware import RequestContext, response_finisher

HERE = Path(__file__).parent
log = structlog.get_logger(__name__)
SESSION_COOKIE = "kaquan_session"


@get("/", exclude_from_auth=True, include_in_schema=False)
async def home() -> Redirect:
    """The shop's address is where buyers land; staff go to /admin."""
    return Redirect("/shop")


def create_app(container: Container | None = None) -> Litestar:
    container = container or bootstrap.build()
    settings = container.settings
    broker = bootstrap.install_broker(settings)
    display_zone = ZoneInfo(settings.display_timezone)

    def setup_jinja(engine: JinjaTemplateEngine) -> None:
        engine.register_template_callable("_", template_gettext)
        engine.register_template_callable("locale", lambda context: locale_of(context["request"]))
        env: Environment = engine.engine
        env.globals.update(LOCALES=LOCALES, Permission=Permission, ROLE_PERMISSIONS=ROLE_PERMISSIONS)
        env.filters["localtime"] = lambda moment: _localtime(moment, display_zone)
        env.filters["money"] = _money
        env.filters["yuan"] = lambda minor: _money(Money(minor))

    templates = TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=setup_jinja)

    async def session_user(_: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]) -> StaffMember | None:
        return await member_of_session(connection, container.sign_in)

    auth = SessionAuth[StaffMember, RotatingSessionBackend](
        retrieve_user_handler=session_user,
        session_backend_config=RotatingSessionConfig(
            key=SESSION_COOKIE,
            max_age=settings.session_max_age_seconds,
            secure=settings.is_production,
            httponly=True,
            samesite="lax",
        ),
        exclude=["^/static/"],
    )

    sessions = container.session_store()
    # Dev mode pays itself: a sandbox EPay gateway, signing with the same merchant key. Never in production.
    sandbox = None if settings.is_production else SandboxGateway(settings.epay_merchant_id, container.secrets.epay_key)
    # Per address, an IPv6 one by its /64 (client_network): rotating through one's own network gets no fresh limit.
    redeem_limit = RateLimitConfig(
        rate_limit=("minute", settings.redeem_rate_per_minute),
        store="rate_limit_redeem",
        identifier_for_request=client_network,
    )
    lookup_limit = RateLimitConfig(
        rate_limit=("minute", settings.lookup_rate_per_minute),
        store="rate_limit_lookup",
        identifier_for_request=client_network,
    )
    challenge_limit = RateLimitConfig(
        rate_limit=("minute", settings.challenge_rate_per_minute),
        store="rate_limit_challenge",
        identifier_for_request=client_network,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # Redis expires its own keys; session files are pruned now and every hour.
        pruning = asyncio.create_task(_prune_hourly(sessions)) if isinstance(sessions, FileStore) else None
        # Without Redis, this process consumes the queue itself; with Redis, `kaquan worker` does.
        worker = None if settings.redis_url else bootstrap.embedded_worker(broker, settings)
        if worker is not None:
            worker.start()
        heartbeats = asyncio.create_task(bootstrap.send_heartbeats())
        sweeping = asyncio.create_task(_sweep_every_minute(container))
        orders = asyncio.create_task(_sweep_orders(container, settings.order_sweep_seconds))
        try:
            yield
        finally:
            if sandbox is not None:
                await sandbox.aclose()
            for task in (heartbeats, sweeping, orders, pruning):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            await container.aclose()

    def provide(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    return Litestar(
        route_handlers=[
            home,
            healthz,
            readyz,
            AuthController,
            AdminController,
            StaffController,
            ProductController,
            StockController,
            OrderController,
            NewOrderController,
            ResellerController,
            PriceRuleController,
            RiskController,
            ReviewController,
            PortalController,
            PortalOrderController,
            PortalPurchaseController,
            PortalResellerController,
            ShopController,
            ResellerShopController,
            PortalShopController,
            PortalApiController,
            PaymentNotifyController,
            SupplierController,
            SupplierWebhookController,
            Router("/", route_handlers=[LookupController, ShopLookupController], middleware=[lookup_limit.middleware]),
            Router("/", route_handlers=[challenge], middleware=[challenge_limit.middleware]),
            Router("/", route_handlers=[RedeemController], middleware=[redeem_limit.middleware]),
            *([SandboxController] if sandbox is not None else []),
            create_static_files_router(
                path="/static", directories=[HERE / "static"], include_in_schema=False, opt={"exclude_from_auth": True}
            ),
        ],
        dependencies={
            "sign_in": provide(container.sign_in),
            "staff_admin": provide(container.staff_admin),
            "operations": provide(container.operations),
            "catalog": provide(container.catalog),
            "stock": provide(container.stock),
            "imports": provide(container.imports),
            "codes": provide(container.codes),
            "ordering": provide(container.ordering),
            "delivery": provide(container.delivery),
            "order_desk": provide(container.order_desk),
            "notifications": provide(container.notifications),
            "redemption": provide(container.redemption),
            "resellers": provide(container.resellers),
            "price_rules": provide(container.price_rules),
            "shops": provide(container.shops),
            "portal": provide(container.portal),
            "api_keys": provide(container.api_keys),
            "api_orders": provide(container.api_orders),
            "callbacks": provide(container.callbacks),
            "upstreams": provide(container.upstreams),
            "upstream_desk": provide(container.upstream_desk),
            "balance_payments": provide(container.balance_payments),
            "sandbox": provide(sandbox),
            "display_zone": provide(display_zone),
            "check_ready": provide(container.check_ready),
            "challenges": provide(container.challenges),
            "risk_desk": provide(container.risk_desk),
            "reviews": provide(container.reviews),
        },
        # Session auth inserts itself first; the request context goes before it so auth-phase logs carry the id.
        on_app_init=[auth.on_app_init, _outermost(RequestContext())],
        csrf_config=CSRFConfig(
            secret=container.secrets.secret_key,
            cookie_name=CSRF_COOKIE,
            cookie_secure=settings.is_production,
            cookie_httponly=True,
            cookie_samesite="lax",
            header_name="x-csrftoken",
            exclude=["^/pay/"],  # gateways post their notices without our cookies; the signature protects them
        ),
        stores={
            "sessions": sessions,
            "rate_limit_redeem": container.store("rate-limit:redeem"),
            "rate_limit_lookup": container.store("rate-limit:lookup"),
            "rate_limit_challenge": container.store("rate-limit:challenge"),
        },
        template_config=templates,
        plugins=[HTMXPlugin(), FlashPlugin(FlashConfig(template_config=templates)), OpenApi(container.api_keys)],
        exception_handlers=exception_handlers,
        before_send=[response_finisher(https=settings.is_production, form_targets=_origin(settings.epay_url))],
        lifespan=[lifespan],
        allowed_hosts=settings.allowed_hosts or None,
        state=State({SESSION_MAX_AGE: settings.session_max_age_seconds, PUBLIC_URL: settings.public_url}),
        openapi_config=None,  # the Open API plugin documents the API, and only the API
        logging_config=None,  # adapters.logging configured it already
        debug=False,
    )


async def _sweep_every_minute(container: Container) -> None:
    """Housekeeping the database needs: imports whose queue message was lost are queued again, codes
    past their batch's expiry are taken out of sale, and (at start and hourly) codes still sealed by
    an old key are handed to the workers to re-seal. Upstream suppliers' catalogs are synced when due
    (KAQUAN_UPSTREAM_SYNC_MINUTES)."""
    minute = 0
    while True:
        try:
            await container.imports.sweep()
            await container.stock.freeze_expired()
            if minute % 60 == 0:
                await container.key_rotation.reseal_if_needed()
        except Exception:  # a failed sweep is retried next minute; it must not stop the loop
            log.exception("sweep failed")
        try:
            if unreachable := await container.upstreams.sync_due():
                log.warning("upstream sync failed", upstreams=unreachable)
        except Exception:
            log.exception("upstream sync failed")
        minute += 1
        await asyncio.sleep(60)


async def _sweep_orders(container: Container, every_seconds: float) -> None:
    """Unpaid orders past their window expire (stock released); paid orders whose delivery message or
    worker was lost are queued again, and so are mails, API callbacks and orders an upstream supplier holds.
    Runs at start-up too: a restart strands nothing."""
    sweeps = (
        container.ordering.expire_due,
        container.delivery.sweep,
        container.notifications.sweep,
        container.callbacks.sweep,
        container.sourcing.sweep,
    )
    while True:
        for sweep in sweeps:
            try:
                await sweep()
            except Exception:  # retried on the next round; one failing sweep must not stop the others
                log.exception("order sweep failed", sweep=sweep.__qualname__)
        await asyncio.sleep(every_seconds)


def _origin(url: str) -> tuple[str, ...]:
    """A payment gateway elsewhere: checkout forms are redirected there, so the CSP must allow it."""
    parts = urlsplit(url)
    return (f"{parts.scheme}://{parts.netloc}",) if parts.scheme and parts.netloc else ()


async def _prune_hourly(sessions: FileStore) -> None:
    while True:
        await sessions.delete_expired()
        await asyncio.sleep(3600)


def _outermost(middleware: Middleware) -> OnAppInitHandler:
    def add(app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, middleware)
        return app_config

    return add


def _money(value: Money) -> str:
    return f"¥{value.amount}" if value.currency == "CNY" else str(value)


def _localtime(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"
