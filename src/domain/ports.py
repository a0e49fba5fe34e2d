"""The domain's view of the outside world. Adapters implement these; services depend only on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from domain.api import ApiKey
from domain.audit import AuditEntry
from domain.catalog import Product, ProductQuery
from domain.codepool import Batch, CodeAction, Sealed, SoldCode, StockCounts, StoredCode
from domain.imports import CodeImport, ImportFormat
from domain.ledger import Account, Posting
from domain.money import Money
from domain.operations import WorkerBeat
from domain.orders import Order, OrderEvent, OrderQuery
from domain.paging import Page, PageRequest
from domain.payments import PaymentNotice, PaymentRequest
from domain.pricing import Audience, PriceList, QuantityBreak, Tier, TierPrice
from domain.redemption import DeliveredUnit
from domain.resellers import Reseller
from domain.risk import Action, Attempt, Decision, ListEntry, ListKind, Rule
from domain.shops import Shop
from domain.staff import StaffMember
from domain.suppliers import Listing, PlacedUpstream, Source, Upstream, UpstreamOrder
from domain.webhooks import WebhookAttempt, WebhookMessage


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class PasswordHasher(Protocol):
    """Slow, salted password hashing (argon2id). Async because hashing is deliberately expensive."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class CodeVault(Protocol):
    """Encryption at rest for codes (AES-GCM under a rotating key ring) and keyed fingerprints for dedupe."""

    def seal(self, plaintext: bytes, *, binding: str) -> Sealed:
        """Encrypt under the active key; `binding` (associated data) must be given again to open it."""
        ...

    def open(self, sealed: Sealed, *, binding: str) -> bytes:
        """Decrypt; raises VaultError when the key is unknown or the ciphertext or binding were altered."""
        ...

    def fingerprint(self, number: str) -> bytes:
        """HMAC-SHA256 of a card number: equal numbers, equal fingerprints, and nothing to decrypt."""
        ...

    @property
    def active_key(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Hits:
    """A counter's value within its current window, and how long until that window ends."""

    count: int
    resets_in: timedelta


@dataclass(frozen=True, slots=True)
class Tally:
    """Events recorded under a key within the sliding window ending now: how many, and the sum of their amounts."""

    count: int
    total: int


class Counters(Protocol):
    """Shared, expiring counters: fixed windows for throttles, sliding windows for risk velocity rules."""

    async def add(self, key: str, amount: int, window: timedelta) -> Hits:
        """Atomically add `amount` and return the new value; the window starts at the first add."""
        ...

    async def reset(self, key: str) -> None: ...

    async def slide(self, key: str, amount: int, window: timedelta) -> Tally:
        """Atomically record one event of `amount` now; return the tally of (now - window, now], this event included.

        Exact, not bucketed: each event leaves the window `window` after it was recorded. Use one window per key.
        """
        ...


class BotChallenges(Protocol):
    """Proof-of-work challenges (ALTCHA) a browser solves before a risky order or lookup goes on."""

    def issue(self) -> dict[str, Any]:
        """A fresh signed challenge, JSON-serialisable, as the widget fetches it."""
        ...

    async def redeem(self, payload: str) -> bool:
        """True once for a valid, unexpired solution; False for a bad, expired or already redeemed one."""
        ...


class StaffRepository(Protocol):
    """In a writing unit of work, members read are locked until commit: saving never loses a concurrent change."""

    async def get(self, staff_id: int) -> StaffMember | None: ...

    async def by_username(self, username: str) -> StaffMember | None: ...

    async def by_invite_token_hash(self, token_hash: str) -> StaffMember | None: ...

    async def add(self, member: StaffMember) -> StaffMember:
        """Store a new account and return it with its id. Raises UsernameTaken."""
        ...

    async def save(self, member: StaffMember) -> None: ...

    async def all(self) -> list[StaffMember]: ...

    async def of_reseller(self, reseller_id: int) -> list[StaffMember]:
        """The logins of one reseller (role reseller)."""
        ...

    async def active_owner_count(self) -> int:
        """Count active owners, locking them until commit so two demotions cannot both pass."""
        ...

    async def exists(self) -> bool: ...


class ProductRepository(Protocol):
    async def get(self, product_id: int) -> Product | None: ...

    async def by_sku(self, sku: str, *, lock: bool = True) -> Product | None:
        """`lock=False`: read without locking the row in a writing unit of work (nobody queues behind it)."""
        ...

    async def by_ids(self, product_ids: Sequence[int]) -> list[Product]:
        """The products found, in the order of `product_ids`."""
        ...

    async def add(self, product: Product) -> Product:
        """Store a new product and return it with its id. Raises SkuTaken."""
        ...

    async def save(self, product: Product) -> None: ...

    async def search(self, query: ProductQuery, page: PageRequest) -> Page[Product]:
        """Matching products, newest first."""
        ...

    async def categories(self) -> list[str]: ...


class CodeRepository(Protocol):
    """The code pool's storage. Reservation is atomic: two orders never get the same code."""

    async def get(self, code_id: int) -> StoredCode | None: ...

    async def batch(self, batch_id: int) -> Batch | None: ...

    async def of_batch(self, batch_id: int, page: PageRequest) -> Page[StoredCode]: ...

    async def apply(
        self, action: CodeAction, now: datetime, *, code_id: int | None = None, batch_id: int | None = None
    ) -> int:
        """Apply a manual action to one code or a whole batch; codes not in a source state are left alone."""
        ...

    async def available_counts(self, product_ids: Sequence[int]) -> dict[int, int]:
        """Available codes per product, for a list of products (absent: none)."""
        ...

    async def running_low(self, kinds: Sequence[str], below: int, limit: int) -> list[tuple[int, int]]:
        """(product id, available codes) of on-sale products of these kinds with fewer than `below` left."""
        ...

    async def sealed_by_another_key(self, active: str) -> bool:
        """Whether anything (a code, a delivered unit, an API key's or an upstream's secret) is still sealed by a key
        other than `active`."""
        ...

    async def count_by_key(self) -> dict[str, int]:
        """How many sealed values each key id sealed: codes, delivered units' links and contents, API keys' and
        upstreams' secrets, and the uploads and staged rows of imports not yet finished."""
        ...

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[StoredCode]:
        """The next codes (by id, after `after_id`) sealed by a key other than `active`."""
        ...

    async def reseal(self, resealed: Sequence[tuple[int, Sealed]]) -> None: ...

    def unsold(self, batch_id: int) -> AsyncIterator[StoredCode]:
        """The batch's available and frozen codes, streamed."""
        ...

    async def add_batch(self, batch: Batch) -> Batch: ...

    async def set_batch_total(self, batch_id: int, total: int) -> None: ...

    async def discard_batch(self, batch_id: int) -> None: ...

    async def add_codes(self, batch: Batch, sealed: Sequence[tuple[bytes, Sealed]], now: datetime) -> int:
        """Add available codes (fingerprint, sealed), skipping ones the product has; returns how many went in."""
        ...

    async def reserve(self, product_id: int, quantity: int, holder: str, now: datetime) -> list[int]:
        """Reserve `quantity` available codes for `holder`, all or none: raises OutOfStock."""
        ...

    async def reserve_up_to(self, product_id: int, quantity: int, holder: str, now: datetime) -> list[int]:
        """Reserve as many available codes as there are for `holder`, at most `quantity` (perhaps none)."""
        ...

    async def release(self, holder: str, now: datetime) -> int: ...

    async def freeze_expired(self, now: datetime) -> int:
        """Freeze the available codes of batches past their expiry; returns how many."""
        ...

    async def sell(self, holder: str, now: datetime) -> list[SoldCode]:
        """The holder's reserved codes become sold; returns them in id order, each with its batch's unit cost and
        expiry (one statement: nothing read back)."""
        ...

    async def counts(self, product_id: int) -> dict[int, StockCounts]:
        """Per batch id, the number of codes in each state."""
        ...

    async def batches(self, product_id: int) -> list[Batch]: ...


class ImportRepository(Protocol):
    """Code import jobs, their uploaded file (sealed, in chunks) and the rows staged from it."""

    async def add(self, job: CodeImport) -> CodeImport: ...

    async def get(self, import_id: int) -> CodeImport | None: ...

    async def save(self, job: CodeImport) -> None: ...

    async def of_product(self, product_id: int, limit: int) -> list[CodeImport]: ...

    async def unfinished(self) -> list[CodeImport]:
        """Imports queued or running: the sweeper looks for ones whose worker or message was lost."""
        ...

    async def add_chunk(self, import_id: int, seq: int, sealed: Sealed) -> None: ...

    async def chunk(self, import_id: int, seq: int) -> Sealed | None: ...

    async def stage(self, import_id: int, rows: Sequence[tuple[int, bytes, Sealed]]) -> int:
        """Stage (line, fingerprint, sealed) rows, skipping fingerprints staged before; returns how many were new."""
        ...

    async def pool_collisions(self, import_id: int, product_id: int) -> list[bytes]:
        """Fingerprints staged for this import that the product's pool already has."""
        ...

    async def unstage(self, import_id: int, fingerprints: Sequence[bytes]) -> None: ...

    async def move_staged(self, import_id: int, batch: Batch, now: datetime) -> int:
        """Move every staged row into the pool as an available code of `batch`, skipping ones the product has."""
        ...

    async def clear_staged(self, import_id: int) -> None: ...

    async def clear(self, import_id: int) -> None:
        """Forget the staged rows and the uploaded file."""
        ...


class OrderRepository(Protocol):
    """In a writing unit of work, an order read is locked until commit: one payment, one delivery at a time."""

    async def add(self, order: Order) -> Order:
        """Store a new order and its events; returns it with its id."""
        ...

    async def get(self, order_id: int) -> Order | None: ...

    async def by_number(self, number: str) -> Order | None: ...

    async def save(self, order: Order) -> None:
        """Store the order's changes and append its new events to the timeline."""
        ...

    async def lock_buyer(self, keys: dict[str, str]) -> None:
        """Serialise placements by the same contact, address or device until commit."""
        ...

    async def unpaid_units(self, keys: dict[str, str]) -> dict[str, int]:
        """Per holding key kind (contact, ip, device), the units its unpaid orders hold (held ones included)."""
        ...

    async def paid_orders_of_contact(self, contact: str) -> int:
        """How many orders the contact has paid (risk: a contact never seen paying is new)."""
        ...

    async def recent(self, limit: int) -> list[Order]:
        """The last `limit` orders placed, newest first (a risk rule's dry run replays them)."""
        ...

    async def first_paid(self, contacts: Sequence[str]) -> dict[str, datetime]:
        """When each of these contacts first paid an order; contacts that never paid are left out."""
        ...

    async def due_to_expire(self, now: datetime, limit: int) -> list[int]: ...

    async def waiting_for_delivery(self, paid_before: datetime, limit: int) -> list[int]:
        """Paid orders nobody needs to act on and no delivery has finished: the sweeper nudges them."""
        ...

    async def waiting_for_notification(self, updated_before: datetime, limit: int) -> list[int]:
        """Orders with delivered units whose mail is still pending (unchanged since `updated_before`)."""
        ...

    async def by_out_trade_no(self, seller_id: int, out_trade_no: str) -> Order | None:
        """The seller's order placed through the API with this id of the caller's."""
        ...

    async def record_payment(self, order_id: int, notice: PaymentNotice, now: datetime) -> bool:
        """Keep a gateway payment; False when this very payment (gateway, trade no) was recorded before."""
        ...

    async def search(self, query: OrderQuery, page: PageRequest) -> Page[Order]:
        """Matching orders, newest first."""
        ...

    async def events(self, order_id: int) -> list[OrderEvent]: ...

    async def add_events(self, order_id: int, events: Sequence[OrderEvent]) -> None: ...


class DeliveryRepository(Protocol):
    async def add(self, units: Sequence[DeliveredUnit]) -> None:
        """Store delivered units; a unit delivered before makes the whole call fail (unique per order unit)."""
        ...

    async def of_order(self, order_id: int) -> list[DeliveredUnit]: ...

    async def by_token_hash(self, token_hash: bytes) -> DeliveredUnit | None: ...

    async def count_reveal(self, unit_id: int) -> None: ...

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[tuple[str, DeliveredUnit]]:
        """The next units (by id, after `after_id`) whose link or content a key other than `active` sealed, each
        with its order's number (their bindings name it)."""
        ...

    async def reseal(self, units: Sequence[DeliveredUnit]) -> None:
        """Store the units' link and content as sealed anew (nothing else about them)."""
        ...


class ResellerRepository(Protocol):
    async def add(self, reseller: Reseller) -> Reseller: ...

    async def get(self, reseller_id: int) -> Reseller | None: ...

    async def save(self, reseller: Reseller) -> None:
        """Its terms: status, credit limit, tier, markup."""
        ...

    async def page(self, page: PageRequest, parent_id: int | None = None) -> Page[Reseller]:
        """Resellers, newest first: all of them, or the sub-resellers of `parent_id`."""
        ...

    async def top_level(self) -> list[Reseller]:
        """The merchant's own resellers (no parent), by name."""
        ...

    async def shop(self, reseller_id: int) -> Shop | None: ...

    async def shop_by_slug(self, slug: str) -> Shop | None: ...

    async def save_shop(self, shop: Shop) -> None:
        """Its settings (not the logo); raises ValidationFailed (slug taken) when another shop has the address."""
        ...

    async def logo(self, reseller_id: int) -> tuple[str, bytes] | None:
        """The shop logo's media type and bytes."""
        ...

    async def save_logo(self, reseller_id: int, logo: tuple[str, bytes] | None) -> None: ...

    async def shop_products(self, reseller_id: int) -> dict[int, Money | None]:
        """Product ids the shop offers, in the shop's order, each with the reseller's own price (or None)."""
        ...

    async def set_shop_products(self, reseller_id: int, chosen: dict[int, Money | None]) -> None: ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> ApiKey: ...

    async def by_key_id(self, key_id: str) -> ApiKey | None: ...

    async def get(self, api_key_id: int) -> ApiKey | None: ...

    async def of_reseller(self, reseller_id: int) -> list[ApiKey]:
        """The reseller's keys, newest first, revoked ones included."""
        ...

    async def revoke(self, api_key_id: int, at: datetime) -> None:
        """Revoked from `at` (a key revoked already keeps its first time)."""
        ...

    async def touch(self, api_key_id: int, at: datetime) -> None:
        """Its last use: only that column, so a request in flight can never undo a revocation."""
        ...

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[ApiKey]:
        """The next keys (by id, after `after_id`) with a secret sealed by a key other than `active`."""
        ...

    async def reseal(self, keys: Sequence[ApiKey]) -> None:
        """Store the keys' secrets as sealed anew: only those columns (a revocation meanwhile stays)."""
        ...


class WebhookRepository(Protocol):
    async def get(self, message_id: int) -> WebhookMessage | None: ...

    async def pending_of_order(self, order_id: int) -> list[WebhookMessage]: ...

    async def save(self, message: WebhookMessage) -> None:
        """Its status, attempt count and times."""
        ...

    async def add_attempt(self, attempt: WebhookAttempt) -> None: ...

    async def attempts(self, message_id: int) -> list[WebhookAttempt]: ...

    async def of_reseller(self, reseller_id: int, page: PageRequest) -> Page[WebhookMessage]:
        """Messages to the reseller's callback URLs (through any of its keys), newest first."""
        ...

    async def stalled(self, new_before: datetime, retried_before: datetime, limit: int) -> list[int]:
        """Orders with a pending message whose queue message was lost: never tried and written before
        `new_before`, or last tried before `retried_before`."""
        ...


class SupplierRepository(Protocol):
    async def add(self, upstream: Upstream) -> Upstream:
        """Raises ValidationFailed (name taken) for a name in use."""
        ...

    async def get(self, upstream_id: int) -> Upstream | None: ...

    async def all(self) -> list[Upstream]: ...

    async def replace_listings(self, upstream_id: int, listings: Sequence[Listing], synced_at: datetime) -> None:
        """The upstream's catalog as just synced (products gone upstream are gone here)."""
        ...

    async def listings(self, upstream_id: int | None = None) -> list[Listing]: ...

    async def sources(self, product_id: int) -> list[Source]:
        """The product's fulfilment sources in order; none: its own pool only."""
        ...

    async def set_sources(self, product_id: int, sources: Sequence[Source]) -> None: ...

    async def upstream_orders(self, order_id: int) -> list[PlacedUpstream]:
        """The order's orders placed upstream, oldest first."""
        ...

    async def record_upstream_order(self, placed: PlacedUpstream) -> PlacedUpstream:
        """Insert or update (by upstream and out_trade_no)."""
        ...

    async def upstream_stock(self, product_ids: Sequence[int]) -> dict[int, int]:
        """Per product with upstream sources: the units its upstreams had in stock at their last sync, at a price
        within the source's cost ceiling."""
        ...

    async def waiting(self, updated_before: datetime, limit: int) -> list[int]:
        """Delivering orders of products with upstream sources, unchanged since `updated_before`: held upstream,
        or stranded between steps by a worker that died — and orders (whatever their status) with an open upstream
        order not asked about since then."""
        ...

    async def order_id_for(self, upstream_id: int, out_trade_no: str) -> int | None:
        """Our order behind an out_trade_no we used upstream (an upstream's webhook names only that)."""
        ...

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[Upstream]:
        """The next upstreams (by id, after `after_id`) with a secret sealed by a key other than `active`."""
        ...

    async def reseal(self, upstreams: Sequence[Upstream]) -> None:
        """Store the upstreams' secrets as sealed anew: only those columns."""
        ...

    async def upstream_order(self, upstream_id: int, out_trade_no: str) -> PlacedUpstream | None:
        """The order we placed at that upstream under that name."""
        ...

    async def count_received(self, upstream_order_id: int, received: int) -> None:
        """How many codes of its answers have been taken (delivered or pooled)."""
        ...

    async def abandon(self, upstream_order_id: int, at: datetime) -> None:
        """Staff stop waiting for it: it is not asked about any more (`record_upstream_order` keeps this)."""
        ...

    async def sourcing_round(self, order_id: int) -> int:
        """Which round of asking the order's sources it is in (1 until staff send it to its sources again)."""
        ...

    async def next_sourcing_round(self, order_id: int) -> int:
        """Start the order's next round of asking its sources; returns its number."""
        ...

    async def pool_unlisted(self, product_ids: Sequence[int]) -> set[int]:
        """Products with sources none of which is the own pool: their pool's codes are not for sale."""
        ...

    async def due_for_sync(self, synced_before: datetime) -> list[int]:
        """Upstreams never synced, or last synced before `synced_before`."""
        ...


class SupplierClient(Protocol):
    """Open API v1 spoken to an upstream, as one of its resellers."""

    async def catalog(self, upstream: Upstream, secret: str) -> list[Listing]:
        """Raises UpstreamUnavailable."""
        ...

    async def order(
        self,
        upstream: Upstream,
        secret: str,
        out_trade_no: str,
        sku: str,
        quantity: int,
        recharge_account: str,
        callback_url: str,
    ) -> UpstreamOrder:
        """Place (or, for an out_trade_no used before, fetch) an order — its outcome called back to `callback_url`
        when one is given; raises UpstreamRefused or UpstreamUnavailable (then whether it was made is unknown: ask
        with `find`)."""
        ...

    async def find(self, upstream: Upstream, secret: str, out_trade_no: str) -> UpstreamOrder | None:
        """The order made under out_trade_no, or None if there is none; raises UpstreamUnavailable."""
        ...


class PriceRepository(Protocol):
    """The merchant's price rules (tiers, tier prices, per-reseller prices, quantity breaks, floors) and who
    may sell what."""

    async def tiers(self) -> list[Tier]: ...

    async def add_tier(self, tier: Tier) -> Tier:
        """Raises ValidationFailed (name taken) for a name in use."""
        ...

    async def price_lists(self, products: Sequence[Product]) -> dict[int, PriceList]:
        """Each product's rules: retail and floor from the product, tier prices by tier name, the merchant's
        prices for its own resellers, quantity breaks."""
        ...

    async def set_floor(self, product_id: int, floor: Money) -> None: ...

    async def set_tier_price(self, tier_id: int, product_id: int, price: TierPrice | None) -> None: ...

    async def set_breaks(self, product_id: int, breaks: Sequence[QuantityBreak]) -> None: ...

    async def reseller_prices(self, reseller_id: int) -> dict[int, Money]:
        """Product id → the price set for this reseller (by the merchant, or by its parent)."""
        ...

    async def set_reseller_price(self, reseller_id: int, product_id: int, price: Money | None) -> None: ...

    async def audiences(self, product_ids: Sequence[int]) -> dict[int, Audience]:
        """Who may sell each product; a product missing from the answer may be sold by every reseller."""
        ...

    async def terms(self, products: Sequence[Product]) -> tuple[dict[int, Audience], dict[int, PriceList]]:
        """`audiences` and `price_lists` of the products at once: what an offer is made of, in one round trip."""
        ...

    async def set_audience(self, product_id: int, audience: Audience) -> None: ...


class LedgerRepository(Protocol):
    """Append-only postings. Accounts that keep a running balance have it updated in the posting's transaction."""

    async def open(self, account: Account) -> None:
        """Create the account's balance row (zero), so it can be locked before its first posting."""
        ...

    async def balance(self, account: Account, *, lock: bool = False) -> int:
        """The balance in minor units (kept, or summed for the merchant's accounts); `lock` holds a kept one
        until commit (one spender at a time)."""
        ...

    async def entries_total(self, account: Account) -> int:
        """The sum of the account's entries: what the cached balance must always equal."""
        ...

    async def post(self, posting: Posting) -> Posting:
        """Append a (balanced) posting and move the cached balances of its accounts; returns it with its id."""
        ...

    async def post_and_balance(self, posting: Posting, account: Account) -> tuple[Posting, int]:
        """`post`, and then `account`'s kept balance: its row, moved by the posting, stays locked until commit
        (one spender at a time from that write on, not from a read before it)."""
        ...

    async def postings(self, reference: str) -> list[Posting]:
        """The postings made for `reference` (an order number, say), oldest first."""
        ...

    async def total_before(self, account: Account, moment: datetime) -> int:
        """The account's balance just before `moment`: the sum of its entries posted earlier."""
        ...

    async def postings_of(self, account: Account, start: datetime, end: datetime) -> list[Posting]:
        """Postings touching the account with start <= at < end, in posting order."""
        ...


class PaymentGateway(Protocol):
    """A payment service the buyer is sent to; it tells us, signed, when the money arrived."""

    name: str

    def checkout_url(self, request: PaymentRequest) -> str:
        """Where to send the buyer to pay."""
        ...

    def verify(self, params: dict[str, str]) -> PaymentNotice:
        """Check a notice's signature and merchant; raises PaymentRejected. The amount is the order's to check."""
        ...


class Signer(Protocol):
    """Keyed signatures for links that must not be guessed, such as a buyer's order page."""

    def sign(self, purpose: str, value: str) -> str: ...

    def verify(self, purpose: str, value: str, signature: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str = ""


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Hand the mail to the mail server; raises on failure (the worker retries)."""
        ...


class CodeFileReader(Protocol):
    """Turns an uploaded file into rows of cells: decoding, delimiters and spreadsheets are its business."""

    def rows(self, format: ImportFormat, data: AsyncIterator[bytes], size: int) -> AsyncIterator[FileRow]:
        """Rows in file order; raises BadCodeFile when the file cannot be read at all."""
        ...


@dataclass(frozen=True, slots=True)
class FileRow:
    line: int
    cells: list[str]
    done_permille: int
    # Cells (by index) the reader already knows cannot hold a code, and why: a spreadsheet error, …
    problems: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """How a callback went: the status code (None when no HTTP answer came), what went wrong, how long it took."""

    status_code: int | None
    error: str
    duration_ms: int


class WebhookSender(Protocol):
    async def post(self, url: str, address: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
        """POST once to `address`, the one the URL's host was checked to have (looked up again, it could answer
        otherwise), no redirects followed, within a short timeout; never raises for the far end's failures."""
        ...


class AddressResolver(Protocol):
    async def resolve(self, host: str) -> list[str]:
        """The host's IP addresses (an address resolves to itself); empty when it does not resolve."""
        ...


class BackgroundJobs(Protocol):
    """Work handed to the queue workers. The database holds the job; the message is only a nudge."""

    async def import_codes(self, import_id: int) -> None: ...

    async def reseal_codes(self) -> None: ...

    async def deliver_order(self, order_id: int) -> None: ...

    async def notify_buyer(self, order_id: int) -> None: ...

    async def mail_payment_link(self, order_id: int) -> None:
        """Mail the buyer of an order approved after review where to pay (retried while the mail server refuses)."""
        ...

    async def call_back(self, order_id: int) -> None:
        """Send the order's pending webhook messages (retried with backoff until accepted)."""
        ...


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...

    async def page(self, *, before_id: int | None, limit: int) -> list[AuditEntry]:
        """Newest first; `before_id` continues from the last entry of the previous page."""
        ...


class WorkerBeats(Protocol):
    async def record(self, beat: WorkerBeat) -> None: ...

    async def all(self) -> list[WorkerBeat]: ...


class RiskRepository(Protocol):
    """The merchant's risk rules, its block and allow lists, and the log of attempts they matched."""

    async def rules(self, *, enabled_only: bool = False) -> list[Rule]:
        """By id; the enabled ones are what every attempt is judged by."""
        ...

    async def rule(self, rule_id: int) -> Rule | None: ...

    async def add_rule(self, rule: Rule, now: datetime) -> Rule: ...

    async def save_rule(self, rule: Rule, now: datetime) -> None: ...

    async def entries(self, list_kind: ListKind | None = None) -> list[ListEntry]: ...

    async def listed(self, attempt: Attempt) -> list[ListEntry]:
        """The entries that may match the attempt: every IP entry (networks), and the others naming its contact,
        recharge account or device. `ListEntry.matches` decides."""
        ...

    async def add_entry(self, entry: ListEntry) -> ListEntry:
        """Raises ValidationFailed({"value": "already_listed"}) if the list already names it."""
        ...

    async def remove_entry(self, entry_id: int) -> ListEntry | None: ...

    async def record(self, decision: Decision) -> None: ...

    async def decisions(self, page: PageRequest, outcome: Action | None = None) -> Page[Decision]:
        """Newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the `async with` block without `commit()` rolls everything back."""

    staff: StaffRepository
    products: ProductRepository
    codes: CodeRepository
    imports: ImportRepository
    orders: OrderRepository
    deliveries: DeliveryRepository
    resellers: ResellerRepository
    prices: PriceRepository
    api_keys: ApiKeyRepository
    webhooks: WebhookRepository
    suppliers: SupplierRepository
    ledger: LedgerRepository
    risk: RiskRepository
    audit: AuditLog
    worker_beats: WorkerBeats

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A fresh unit of work; `read_only` ones never block writers (and must not write)."""
        ...
