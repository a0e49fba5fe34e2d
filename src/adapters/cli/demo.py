"""Demo data for `make run`: one account per staff role, a small stocked catalog, and a reseller with a
sub-reseller and an open shop, to try each part."""

from __future__ import annotations

from adapters.bootstrap import Container
from domain.audit import Actor
from domain.catalog import DeliveryKind, Product, ProductDraft, ProductQuery
from domain.codepool import BatchDetails
from domain.errors import NotFound
from domain.money import Money
from domain.paging import PageRequest
from domain.resellers import ResellerDraft
from domain.shops import ShopDraft
from domain.staff import Role

DEMO_PASSWORD = "demo-password"  # noqa: S105 — dev mode only; `kaquan setup` refuses demo data in production
DEMO_STAFF = [
    ("operator", "运营 Olivia", Role.OPERATOR),
    ("finance", "财务 Frank", Role.FINANCE),
    ("support", "客服 Sara", Role.SUPPORT),
    ("clerk", "店员 Chen", Role.CLERK),
]


DEMO_PRODUCTS = [
    ProductDraft(
        "IQIYI-VIP-M",
        "爱奇艺黄金会员 月卡",
        "30",
        "19.80",
        "code",
        "爱奇艺 iQIYI",
        "视频会员",
        "打开爱奇艺 App → 我的 → 兑换码，输入卡密即可。",
        on_sale=True,
    ),
    ProductDraft(
        "QQMUSIC-GREEN-M",
        "QQ音乐绿钻 月卡",
        "15",
        "12.00",
        "code",
        "QQ音乐",
        "音乐会员",
        "QQ音乐 App → 我的 → 会员中心 → 兑换。",
        on_sale=True,
    ),
    ProductDraft(
        "STEAM-CN-100",
        "Steam 钱包充值卡 ¥100",
        "100",
        "96.50",
        "code",
        "Steam",
        "游戏",
        "Steam 客户端 → 账户 → 兑换 Steam 钱包充值码。",
    ),
    ProductDraft(
        "LUCKIN-AMERICANO",
        "瑞幸咖啡 美式 兑换券",
        "24",
        "9.90",
        "voucher",
        "瑞幸 luckin",
        "咖啡",
        "到店出示券码，或在瑞幸 App 兑换。",
        on_sale=True,
    ),
    ProductDraft(
        "CMCC-TOPUP-50",
        "中国移动 话费直充 50元",
        "50",
        "49.20",
        "topup",
        "中国移动",
        "话费",
        "填写手机号，充值成功后短信通知。",
    ),
]


async def _stock_up(container: Container, product: Product) -> list[str]:
    """A few made-up codes (they redeem nowhere) so the code pool has something to show."""
    assert product.id is not None
    details = BatchDetails("demo supplier", Money(product.retail_price.minor * 8 // 10))
    if product.delivery_kind is DeliveryKind.CODE:
        prefix = product.sku.split("-")[0][:4]
        lines = [
            (n, f"{prefix}-DEMO-{n:04d}-{(n * 7919) % 10000:04d}", f"{(n * 104729) % 1000000:06d}")
            for n in range(1, 21)
        ]
        result = await container.stock.add_codes(product.id, lines, details, Actor.cli())
        return [f"  {result.imported} demo codes for {product.sku}"]
    if product.delivery_kind is DeliveryKind.VOUCHER:
        job = await container.imports.generate(product.id, 50, 12, details, Actor.cli())
        done = await container.imports.run(job.id or 0)
        return [f"  {done.progress.imported if done else 0} demo vouchers for {product.sku}"]
    return []


async def load(container: Container) -> list[str]:
    """Create what is missing and say what was created."""
    created = []
    for draft in DEMO_PRODUCTS:
        if not (await container.catalog.search(ProductQuery(text=draft.sku), PageRequest(1, 1))).total:
            product = await container.catalog.create(draft, Actor.cli())
            created.append(f"product {draft.sku} {draft.name}")
            created += await _stock_up(container, product)
    for username, name, role in DEMO_STAFF:
        try:
            await container.staff_admin.by_username(username)
        except NotFound:
            await container.staff_admin.create(username, name, role, DEMO_PASSWORD, Actor.cli())
            created.append(f"staff {username} ({role}) password {DEMO_PASSWORD}")
    created += await _resellers(container)
    created += await _risk_rules(container)
    return created


DEMO_RULES = (
    {"name": "同一地址频繁下单 Rapid orders from one address", "type": "velocity", "key": "ip", "measure": "orders",
     "limit": "5", "window_minutes": "10", "action": "challenge", "channels": "shop",
     "reason": "more than 5 orders from one address in 10 minutes: prove a person is there"},
    {"name": "低面值连刷 Burst of low-value cards", "type": "low_value_burst", "key": "ip", "face_value_max": "50",
     "limit": "20", "window_minutes": "10", "action": "review", "reason": "scripted cash-out of cheap cards"},
    {"name": "单地址每小时上限 Hourly ceiling per address", "type": "velocity", "key": "ip", "measure": "orders",
     "limit": "60", "window_minutes": "60", "action": "block", "reason": "no buyer needs 60 orders an hour"},
    {"name": "新买家大额 First big order of a new buyer", "type": "new_contact", "amount_over": "500",
     "action": "review", "reason": "a first order above 500 yuan is checked by a person"},
    {"name": "频繁查单 Repeated order lookups", "type": "velocity", "key": "ip", "measure": "orders", "limit": "10",
     "window_minutes": "10", "action": "challenge", "applies_to": "lookup",
     "reason": "guessing other buyers' orders"},
)  # fmt: skip


async def _risk_rules(container: Container) -> list[str]:
    """A few sensible rules to start from (only into an empty rule book: the merchant's own are never touched)."""
    if (await container.risk_desk.rule_book()).rules:
        return []
    for fields in DEMO_RULES:
        await container.risk_desk.create_rule(fields, Actor.cli())
    return [f"{len(DEMO_RULES)} risk rules (admin → Risk)"]


async def _resellers(container: Container) -> list[str]:
    """Tier 金牌 (−8 % on what is on sale), reseller 星河数码 with its shop /s/xinghe, and its sub-reseller."""
    try:
        await container.staff_admin.by_username("reseller")
        return []
    except NotFound:
        pass
    cli = Actor.cli()
    gold = await container.price_rules.add_tier("金牌 gold", cli)
    on_sale = (await container.catalog.search(ProductQuery(on_sale=True), PageRequest(1, 50))).items
    for product in on_sale:
        await container.price_rules.set_tier_price(product.id or 0, gold.id or 0, "", "8", cli)
    top, token = await container.resellers.create_with_login(
        ResellerDraft("星河数码", "xinghe@example.com", "200", tier_id=gold.id), "reseller", cli
    )
    await container.resellers.top_up(top.id or 0, "500", "demo top-up", cli)
    sub, sub_token = await container.resellers.create_with_login(
        ResellerDraft("小李卡铺", "xiaoli@example.com", parent_id=top.id, markup="5"), "subreseller", cli
    )
    for invite in (token, sub_token):
        await container.staff_admin.accept_invite(invite or "", DEMO_PASSWORD, None)
    await container.shops.configure(top.id or 0, ShopDraft(True, "xinghe", "全场自动发货，7×24 小时。", "#1d4ed8"), cli)
    await container.shops.choose(top.id or 0, {p.id or 0: "" for p in on_sale}, cli)
    return [
        f"reseller {top.name} (tier {gold.name}), login reseller password {DEMO_PASSWORD}, shop /s/xinghe",
        f"sub-reseller {sub.name} (+5 %), login subreseller password {DEMO_PASSWORD}",
    ]
