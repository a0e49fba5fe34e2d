"""Demo data for `make run`: one account per staff role and a small catalog, so a newcomer can try each."""

from __future__ import annotations

from adapters.bootstrap import Container
from domain.audit import Actor
from domain.catalog import ProductDraft, ProductQuery
from domain.errors import NotFound
from domain.paging import PageRequest
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


async def load(container: Container) -> list[str]:
    """Create what is missing and say what was created."""
    created = []
    for draft in DEMO_PRODUCTS:
        if not (await container.catalog.search(ProductQuery(text=draft.sku), PageRequest(1, 1))).total:
            await container.catalog.create(draft, Actor.cli())
            created.append(f"product {draft.sku} {draft.name}")
    for username, name, role in DEMO_STAFF:
        try:
            await container.staff_admin.by_username(username)
        except NotFound:
            await container.staff_admin.create(username, name, role, DEMO_PASSWORD, Actor.cli())
            created.append(f"staff {username} ({role}) password {DEMO_PASSWORD}")
    return created
