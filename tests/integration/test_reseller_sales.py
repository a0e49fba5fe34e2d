"""Sales through resellers' shops, on the real ledger (SQLite and PostgreSQL): the buyer pays the shop's price,
delivery shares it out — supplier, platform, each reseller level's margin — to the fen, and a refund takes all
of it back. Prices come down the chain; a level that would earn less than nothing does not sell."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import pytest
from sqlalchemy.pool import NullPool

from adapters.db.engine import create_engine
from adapters.db.uow import SqlUnitOfWorkFactory
from domain.audit import Actor
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.ledger import Account, AccountKind, InsufficientBalance
from domain.money import Money
from domain.orders import Channel, OrderQuery, OrderStatus
from domain.paging import PageRequest
from domain.resellers import Reseller, ResellerDisabled, ResellerDraft
from domain.services.ordering import NoSuchOrder
from domain.shops import ShopDraft
from domain.staff import InvalidCredentials, StaffStatus
from tests.integration.shopping import RecordedJobs, assert_ledger_consistent, buy, notice, stocked

CLI = Actor.cli()


@dataclass
class Chain:
    product_id: int
    top: Reseller  # the merchant's own reseller, tier gold (−10 %): pays 17.82 of 19.80
    mid: Reseller  # under top, markup 5 %: pays 18.71
    seller: Reseller  # under mid, which set its price at 19.00; sells at 22.00 in its shop "corner"


@pytest.fixture
async def chain(container) -> Chain:
    product_id = await stocked(container, count=5)  # retail 19.80; codes cost 15.00
    gold = await container.price_rules.add_tier("gold", CLI)
    await container.price_rules.set_tier_price(product_id, gold.id, "", "10", CLI)
    top = await container.resellers.create(ResellerDraft("L1", "l1@example.com", tier_id=gold.id), CLI)
    mid = await container.resellers.create(ResellerDraft("L2", "l2@example.com", parent_id=top.id, markup="5"), CLI)
    seller = await container.resellers.create(ResellerDraft("L3", "l3@example.com", parent_id=mid.id), CLI)
    await container.portal.set_sub_price(mid.id, seller.id, product_id, "19.00", CLI)
    await container.shops.configure(seller.id, ShopDraft(True, "corner", "Open all night", "#1d4ed8", "20"), CLI)
    await container.shops.choose(seller.id, {product_id: "22.00"}, CLI)
    return Chain(product_id, top, mid, seller)


def services(container, jobs: RecordedJobs):
    """Shops, ordering and delivery with their queue recorded instead of sent."""
    ordering = replace(container.ordering, jobs=jobs)
    return replace(container.shops, ordering=ordering), ordering, replace(container.delivery, jobs=jobs)


async def balance(container, account: Account) -> int:
    async with container.ordering.uow(read_only=True) as uow:
        return await uow.ledger.balance(account)


def commission(reseller: Reseller) -> Account:
    return Account(AccountKind.RESELLER_COMMISSION, reseller.id)


async def test_a_shop_sale_pays_every_level_its_margin_and_a_refund_takes_it_back(container, chain):
    jobs = RecordedJobs()
    shops, ordering, delivery = services(container, jobs)
    order = await shops.place("corner", buy(2))
    assert (order.unit_price, order.seller_id) == (Money(2200), chain.seller.id)
    assert order.chain == ((chain.top.id, Money(1782)), (chain.mid.id, Money(1871)), (chain.seller.id, Money(1900)))
    await ordering.pay(notice(container, order))
    await delivery.deliver(order.id)
    assert jobs.delivered == [order.id]
    shares = {
        "supplier": await balance(container, Account(AccountKind.SUPPLIER_PAYABLE)),
        "platform": await balance(container, Account(AccountKind.PLATFORM_REVENUE)),
        "top": await balance(container, commission(chain.top)),
        "mid": await balance(container, commission(chain.mid)),
        "seller": await balance(container, commission(chain.seller)),
    }
    # 2 × (15.00 | 17.82 − 15.00 | 18.71 − 17.82 | 19.00 − 18.71 | 22.00 − 19.00)
    assert shares == {"supplier": 3000, "platform": 564, "top": 178, "mid": 58, "seller": 600}
    assert sum(shares.values()) == 4400 == order.total.minor
    assert await container.resellers.balance(chain.seller.id, AccountKind.RESELLER_COMMISSION) == Money(600)
    await container.order_desk.refund(order.id, "buyer changed their mind", CLI)
    for reseller in (chain.top, chain.mid, chain.seller):
        assert await balance(container, commission(reseller)) == 0
    assert await balance(container, Account(AccountKind.PLATFORM_REVENUE)) == 0
    await assert_ledger_consistent(container)


async def test_quantity_breaks_lower_every_level_and_the_shop_price_stays(container, chain):
    await container.price_rules.set_breaks(chain.product_id, [("2", "2")], CLI)
    shops, _, _ = services(container, RecordedJobs())
    order = await shops.place("corner", buy(2))
    # gold 17.82 − 2 % = 17.46; mid's markup follows (18.33); the seller pays what mid set (19.00)
    assert [cost for _, cost in order.chain] == [Money(1746), Money(1833), Money(1900)]
    assert order.unit_price == Money(2200)


async def test_the_storefront_shows_live_stock_and_only_what_the_chain_may_sell(container, chain):
    shop, items = await container.shops.storefront("CORNER")
    assert (shop.name, shop.notice, shop.theme) == ("L3", "Open all night", "#1d4ed8")
    assert [(i.sku, i.price, i.available) for i in items] == [("IQ-M", Money(2200), 5)]
    shops, _, _ = services(container, RecordedJobs())
    await shops.place("corner", buy(5))
    assert (await container.shops.storefront("corner"))[1][0].sold_out, "sold out the moment the pool is empty"
    # The merchant keeps the product for another tier: the whole chain under L1 stops selling it.
    platinum = await container.price_rules.add_tier("platinum", CLI)
    await container.price_rules.set_audience(chain.product_id, [platinum.id], [], CLI)
    assert (await container.shops.storefront("corner"))[1] == []
    with pytest.raises(NotFound):
        await shops.place("corner", buy(1))


async def test_a_level_that_would_lose_money_stops_the_sale(container, chain):
    # L1's cost rises to 20.00: L2 (markup 5 %) now pays 21.00, more than the 19.00 it charges L3.
    await container.price_rules.set_reseller_price(chain.product_id, chain.top.id, "20.00", CLI)
    assert (await container.shops.storefront("corner"))[1] == []
    with pytest.raises(NotFound):
        await container.shops.place("corner", buy(1))


async def test_prices_set_below_cost_are_refused(container, chain):
    with pytest.raises(ValidationFailed) as below_parent:
        await container.portal.set_sub_price(chain.mid.id, chain.seller.id, chain.product_id, "18.70", CLI)
    assert below_parent.value.errors == {"price": "below_own_cost"}
    with pytest.raises(ValidationFailed) as below_own:
        await container.shops.choose(chain.seller.id, {chain.product_id: "18.99"}, CLI)
    assert below_own.value.errors == {f"price_{chain.product_id}": "below_own_cost"}
    assert (await container.shops.storefront("corner"))[1][0].price == Money(2200), "nothing changed"


async def test_a_disabled_reseller_anywhere_up_the_chain_closes_the_shop(container, chain):
    await container.resellers.set_terms(chain.mid.id, "disabled", "0", None, "5", CLI)
    with pytest.raises(NotFound) as closed:
        await container.shops.storefront("corner")
    assert closed.value.code == "shop_closed"


async def test_the_shops_lookup_finds_only_the_shops_orders(container, chain):
    shops, ordering, _ = services(container, RecordedJobs())
    sold_here = await shops.place("corner", buy(1, "here@example.com"))
    sold_direct = await ordering.place(buy(1, "direct@example.com"))
    found, _ = await container.shops.look_up("corner", sold_here.number, "here@example.com")
    assert found.number == sold_here.number
    with pytest.raises(NoSuchOrder):
        await container.shops.look_up("corner", sold_direct.number, "direct@example.com")
    assert (await container.ordering.look_up(sold_here.number, "here@example.com"))[0].number == sold_here.number


async def test_a_reseller_sees_its_own_orders_and_sub_resellers_and_nobody_elses(container, chain):
    shops, _, _ = services(container, RecordedJobs())
    sold = await shops.place("corner", buy(1))
    assert [o.number for o in (await container.portal.orders(chain.seller.id, OrderQuery(), PageRequest())).items] == [
        sold.number
    ]
    assert (
        await container.portal.orders(chain.mid.id, OrderQuery(seller_id=chain.seller.id), PageRequest())
    ).total == 0
    with pytest.raises(NotFound):
        await container.portal.order(chain.mid.id, sold.number)
    with pytest.raises(NotFound):
        await container.portal.sub_reseller(chain.top.id, chain.seller.id)  # a grandchild is not its own
    with pytest.raises(NotFound):
        await container.portal.set_sub_price(chain.top.id, chain.seller.id, chain.product_id, "30", CLI)
    with pytest.raises(NotFound):
        await container.portal.set_sub_terms(chain.seller.id, chain.mid.id, "disabled", "0", CLI)
    subs = await container.portal.sub_resellers(chain.mid.id, PageRequest())
    assert [r.id for r, _ in subs.items] == [chain.seller.id]
    assert (await container.ordering.view(sold.number, container.ordering.page_key(sold))).order.status is (
        OrderStatus.AWAITING_PAYMENT
    )


async def test_a_reseller_buying_for_itself_pays_its_cost_from_its_wallet_and_its_parents_earn(container, chain):
    jobs = RecordedJobs()
    payments, delivery = replace(container.balance_payments, jobs=jobs), replace(container.delivery, jobs=jobs)
    with pytest.raises(InsufficientBalance):
        await payments.buy(chain.seller.id, "IQ-M", "2", CLI)
    assert (await container.stock.available([chain.product_id]))[chain.product_id] == 5, "nothing held"
    await container.resellers.top_up(chain.seller.id, "50", "", CLI)
    order = await payments.buy(chain.seller.id, "iq-m", "2", CLI)
    assert (order.status, order.total, order.channel) == (OrderStatus.PAID, Money(3800), Channel.PORTAL)
    assert await container.resellers.balance(chain.seller.id) == Money(1200)
    await delivery.deliver(order.id)
    assert [await balance(container, commission(r)) for r in (chain.top, chain.mid, chain.seller)] == [178, 58, 0]
    assert await balance(container, Account(AccountKind.PLATFORM_REVENUE)) == 564
    mine = await container.portal.orders(chain.seller.id, OrderQuery(), PageRequest())
    assert [o.number for o in mine.items] == [order.number]
    await assert_ledger_consistent(container)


async def test_fifty_racing_wallet_orders_against_a_balance_for_ten_place_exactly_ten(container, chain, settings):
    """The issue's race: 50 concurrent orders, a balance that covers 10 → 10 paid, 40 insufficient_balance,
    and the 40 leave no order, no reserved code and no posting behind."""
    await stocked(container, sku="RACE", count=60)
    # RACE has no tier rule: L1 pays retail 19.80, L2 +5 % 20.79, and L3 what L2 pays (no markup set for it)
    await container.resellers.top_up(chain.seller.id, "207.90", "covers ten at 20.79", CLI)
    engines = [create_engine(settings.effective_database_url, poolclass=NullPool) for _ in range(50)]
    racers = [replace(container.balance_payments, uow=SqlUnitOfWorkFactory(e), jobs=RecordedJobs()) for e in engines]

    async def race(racer) -> str:
        try:
            await racer.buy(chain.seller.id, "RACE", "1", CLI)
        except InsufficientBalance as refused:
            return refused.code
        return "paid"

    try:
        outcomes = await asyncio.gather(*(race(racer) for racer in racers))
    finally:
        for engine in engines:
            await engine.dispose()
    assert outcomes.count("paid") == 10 and outcomes.count("insufficient_balance") == 40
    assert await container.resellers.balance(chain.seller.id) == Money(0)
    assert (await container.portal.orders(chain.seller.id, OrderQuery(), PageRequest(1, 100))).total == 10
    race_id = (await container.catalog.by_sku("RACE")).id
    assert (await container.stock.available([race_id]))[race_id] == 50
    await assert_ledger_consistent(container)


async def test_a_disabled_resellers_logins_are_disabled_with_it_and_come_back_with_it(container, chain):
    _, token = await container.resellers.invite_login(chain.mid.id, "mid-login", CLI)
    await container.staff_admin.accept_invite(token, "a long enough password", None)
    await container.portal.set_sub_terms(chain.top.id, chain.mid.id, "disabled", "5", CLI)
    (login,) = await container.resellers.logins(chain.mid.id)
    assert login.status is StaffStatus.DISABLED
    with pytest.raises(DomainError):
        await container.sign_in.log_in("mid-login", "a long enough password", "127.0.0.1")
    await container.resellers.set_terms(chain.mid.id, "active", "0", None, "5", CLI)
    assert (await container.sign_in.log_in("mid-login", "a long enough password", "127.0.0.1")).reseller_id == (
        chain.mid.id
    )


async def test_a_purchase_that_would_cost_a_parent_money_is_not_offered(container, chain):
    await container.resellers.top_up(chain.seller.id, "100", "", CLI)
    # L1's cost rises to 20.00, so L2 (markup 5 %) pays 21.00 — more than the 19.00 it set for L3.
    await container.price_rules.set_reseller_price(chain.product_id, chain.top.id, "20.00", CLI)
    with pytest.raises(NotFound):
        await container.balance_payments.buy(chain.seller.id, "IQ-M", "1", CLI)
    assert (await container.resellers.catalog(chain.seller.id, PageRequest())).items == []
    assert await container.resellers.balance(chain.seller.id) == Money(10000), "nothing charged"


async def test_a_parent_cannot_switch_on_a_sub_reseller_the_merchant_switched_off(container, chain):
    await container.resellers.set_terms(chain.seller.id, "disabled", "0", None, "0", CLI)
    with pytest.raises(ValidationFailed) as refused:
        await container.portal.set_sub_terms(chain.mid.id, chain.seller.id, "active", "0", CLI)
    assert refused.value.errors == {"status": "disabled_by_merchant"}
    await container.resellers.set_terms(chain.seller.id, "active", "0", None, "0", CLI)
    await container.portal.set_sub_terms(chain.mid.id, chain.seller.id, "disabled", "0", CLI)
    back_on = await container.portal.set_sub_terms(chain.mid.id, chain.seller.id, "active", "0", CLI)
    assert back_on.is_active, "what the parent switched off, the parent may switch on"


async def test_nothing_below_a_switched_off_reseller_acts(container, chain):
    _, token = await container.resellers.invite_login(chain.seller.id, "seller-login", CLI)
    await container.staff_admin.accept_invite(token, "a long enough password", None)
    member = await container.sign_in.log_in("seller-login", "a long enough password", "127.0.0.1")
    await container.resellers.top_up(chain.seller.id, "100", "", CLI)
    await container.resellers.set_terms(chain.top.id, "disabled", "0", None, "0", CLI)
    assert await container.sign_in.session_member(member.id, member.auth_version) is None, "its session ends"
    with pytest.raises(InvalidCredentials):
        await container.sign_in.log_in("seller-login", "a long enough password", "127.0.0.1")
    with pytest.raises(ResellerDisabled):
        await container.balance_payments.buy(chain.seller.id, "IQ-M", "1", CLI)
    with pytest.raises(ResellerDisabled):
        await container.resellers.invite_login(chain.seller.id, "another-login", CLI)
    with pytest.raises(ResellerDisabled):
        await container.portal.invite(chain.mid.id, ResellerDraft("L4", "l4@example.com"), "l4-login", CLI)
    await container.resellers.set_terms(chain.top.id, "active", "0", None, "0", CLI)
    assert await container.sign_in.session_member(member.id, member.auth_version) is not None
