"""The Open API's documentation: the app's own OpenAPI schema (only /api/v1 is in it) at /api/schema, with the
signing rules, the error format and examples, and an interactive page at /api/docs (Swagger UI, vendored, whose
"Try it out" signs requests in the browser with a key the reader types in)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Router, get
from litestar.enums import MediaType
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
    Tag,
)
from litestar.response import Template

from domain.api import CALLBACK_MAX, OUT_TRADE_NO
from domain.orders import RECHARGE_ACCOUNT_MAX
from web.api.schemas import Error, Order

SCHEMA_PATH = "/api/schema"
DOCS_PATH = "/api/docs"

DESCRIPTION = """\
The API for resellers' systems: the caller's catalog at its own prices, orders paid from its balance (and credit)
and delivered at once where the codes are in stock, orders looked up, the balance. JSON in and out (UTF-8).

## Signing

Every request carries four headers: `X-Api-Key` (the key id, `kq_…`), `X-Timestamp` (unix seconds, within 300 s of
the server's clock), `X-Nonce` (unique per request, 1–64 printable characters, never reused within 10 minutes) and
`X-Signature`: the lowercase hex HMAC-SHA256, keyed with the key's secret (`sk_…`), of

    {timestamp}\\n{nonce}\\n{METHOD}\\n{path_with_query}\\n{sha256_hex(body)}

`path_with_query` is the path and query string exactly as sent (e.g. `/api/v1/orders?out_trade_no=R-10001`); the
body is hashed as the exact bytes sent (the SHA-256 of nothing for a GET). A key may be limited to IP addresses
and is limited in requests per minute (429 with `Retry-After`).

## Idempotency

`out_trade_no` is the caller's own id for an order, unique per reseller. Sending the same request again (same
fields) answers the order it made, with status 200 instead of 201 — safe to retry after a timeout. Another
request under the same `out_trade_no` is refused with 409 `duplicate_out_trade_no`. Concurrent duplicates make
one order, charged once.

## Errors

An HTTP status and `{"error": {"code": "…", "message": "…"}}`; `validation_error` (422) adds `fields`, each
invalid field with a code. Programs check `code`: 401 `missing_credentials`, `invalid_api_key`, `revoked_api_key`,
`invalid_timestamp`, `stale_timestamp`, `invalid_nonce`, `invalid_signature`, `nonce_reused`; 402
`insufficient_balance`; 403 `ip_not_allowed`, `reseller_disabled`, `risk_blocked`, `review`; 404 `not_found`; 409
`duplicate_out_trade_no`, `out_of_stock`; 413 `body_too_large`; 422 `validation_error`; 429 `rate_limited`.

## Risk rules

The merchant's risk rules judge every order. 403 `risk_blocked`: refused, nothing was made or charged. 403 `review`:
the order was made (its number is in `order_no`) but waits for the merchant's review, not charged yet; it shows as
status `review`. Approved, it is charged and goes on like any order (delivered, called back); rejected, it ends
`failed` (called back too). Sending the same request again answers `review` while it waits, then the order.

## Callbacks

An order with a `callback_url` is posted there when it becomes delivered, partially_delivered, failed or refunded,
signed per the Standard Webhooks specification with the key's webhook secret (`whsec_…`): verify with any
Standard Webhooks library, deduplicate by `webhook-id`, answer 2xx. Failed deliveries are retried with backoff for
more than a day. The body's `data` is the order without its codes: fetch them with a signed GET.
"""

_HEADERS = {
    "ApiKey": ("X-Api-Key", "The key id, e.g. kq_7hT2mQ9xK4pW3nRb."),
    "Timestamp": ("X-Timestamp", "Unix seconds; at most 300 s away from the server's clock."),
    "Nonce": ("X-Nonce", "Unique per request (1–64 printable characters)."),
    "Signature": (
        "X-Signature",
        "Lowercase hex HMAC-SHA256(secret, timestamp\\nnonce\\nMETHOD\\npath_with_query\\nsha256_hex(body)).",
    ),
}
SECURITY: list[SecurityRequirement] = [{name: [] for name in _HEADERS}]


ORDER_REQUEST = Schema(
    type=OpenAPIType.OBJECT,
    required=["sku", "out_trade_no"],
    additional_properties=False,
    properties={
        "sku": Schema(type=OpenAPIType.STRING, min_length=1, description="A SKU from GET /api/v1/products."),
        "quantity": Schema(
            type=OpenAPIType.INTEGER,
            minimum=1,
            default=1,
            description="At most the merchant's per-order maximum (10 unless configured): more is too_many.",
        ),
        "out_trade_no": Schema(
            type=OpenAPIType.STRING,
            pattern=OUT_TRADE_NO.pattern,
            description="The caller's own id for this order: the same request under it again is answered with the "
            "same order (200); another request under it is refused (409 duplicate_out_trade_no).",
        ),
        "recharge_account": Schema(
            type=OpenAPIType.STRING,
            max_length=RECHARGE_ACCOUNT_MAX,
            description="The account to top up: required for topup products.",
        ),
        "callback_url": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.URI,
            max_length=CALLBACK_MAX,
            description="http(s) URL called back (Standard Webhooks) when the order is delivered, partially "
            "delivered, failed or refunded; it must resolve to a public address.",
        ),
    },
)


_ORDER_BODY = RequestBody(
    required=True,
    content={
        MediaType.JSON: OpenAPIMediaType(
            schema=ORDER_REQUEST,
            examples={
                "code": Example(
                    summary="Two codes, with a callback",
                    value={
                        "sku": "IQIYI-VIP-M",
                        "quantity": 2,
                        "out_trade_no": "R-10001",
                        "callback_url": "https://reseller.example.com/kaquan/callback",
                    },
                ),
                "topup": Example(
                    summary="A top-up of the buyer's account",
                    value={"sku": "QQ-COIN-10", "out_trade_no": "R-10002", "recharge_account": "13800138000"},
                ),
            },
        )
    },
)


@dataclass
class OrderRequestOperation(Operation):
    """POST /api/v1/orders reads its body itself (after the signature over the raw bytes holds): the schema is
    documented here, not derived from a handler parameter."""

    def __post_init__(self) -> None:
        self.request_body = _ORDER_BODY


# An example error body: (code, message, fields) or, for `review`, (code, message, None, order_no).
ErrorCase = tuple[str, str, dict[str, str] | None] | tuple[str, str, None, str]


def _error(description: str, *cases: ErrorCase) -> ResponseSpec:
    examples = []
    for code, message, fields, *order_no in cases:
        more = ({"fields": fields} if fields else {}) | ({"order_no": order_no[0]} if order_no else {})
        examples.append(Example(summary=code, value={"error": {"code": code, "message": message} | more}))
    return ResponseSpec(Error, description=description, generate_examples=False, examples=examples)


SIGNED = {
    401: _error(
        "Not signed by a live key: the code says why.",
        ("invalid_signature", "The signature does not match this request.", None),
        ("stale_timestamp", "X-Timestamp is more than 300 seconds away from our clock.", None),
        ("nonce_reused", "This X-Nonce was used already.", None),
        ("revoked_api_key", "This API key was revoked.", None),
    ),
    403: _error(
        "The key may not be used from here, or its reseller is switched off.",
        ("ip_not_allowed", "This address is not on the key's allowlist.", None),
        ("reseller_disabled", "This reseller account is disabled.", None),
    ),
    429: _error(
        "Too many requests for this key; the Retry-After header says how many seconds to wait.",
        ("rate_limited", "Too many requests. Try again in 12 s.", None),
    ),
}
NOT_FOUND = {
    404: _error(
        "No such order for this caller (another reseller's orders are not found either).",
        ("not_found", "Not found.", None),
    )
}
PLACING = {
    200: ResponseSpec(
        Order,
        description="The same request (same out_trade_no and fields) came before: its order, as it is now.",
        generate_examples=False,
    ),
    402: _error(
        "The balance with the credit limit does not cover the order; nothing was charged.",
        ("insufficient_balance", "The balance (with credit) does not cover this.", None),
    ),
    # Replaces SIGNED's 403 for this operation: the same refusals, and the merchant's risk rules.
    403: _error(
        "The key may not be used from here or its reseller is switched off (nothing made); or the merchant's risk "
        "rules refused the order (`risk_blocked`: nothing made or charged) or hold it for review (`review`: made, "
        "not charged until approved; `order_no` names it, and GET shows it with status review).",
        ("ip_not_allowed", "This address is not on the key's allowlist.", None),
        ("reseller_disabled", "This reseller account is disabled.", None),
        ("risk_blocked", "This order cannot be accepted. If you think this is a mistake, contact the shop.", None),
        (
            "review",
            "The order is held for the merchant's review (order 2604171234567890); it is not charged until approved.",
            None,
            "2604171234567890",
        ),
    ),
    409: _error(
        "The out_trade_no names another order, or the product is out of stock.",
        ("duplicate_out_trade_no", "This out_trade_no already names another order.", None),
        ("out_of_stock", "Out of stock.", None),
    ),
    413: _error("The body is larger than 64 KiB.", ("body_too_large", "The upload is too large.", None)),
    422: _error(
        "The body is not a valid order; `fields` names each problem.",
        (
            "validation_error",
            "Some fields are invalid: quantity, out_trade_no.",
            {"quantity": "too_many", "out_trade_no": "invalid_out_trade_no"},
        ),
        ("validation_error", "Some fields are invalid: sku.", {"sku": "unknown_sku"}),
    ),
}
BAD_REQUEST = {
    400: _error("The request could not be read.", ("bad_request", "The request could not be understood.", None))
}
LOOKUP = {
    422: _error(
        "out_trade_no is missing.",
        ("validation_error", "Some fields are invalid: out_trade_no.", {"out_trade_no": "required"}),
    )
}


def openapi_config() -> OpenAPIConfig:
    """The schema of the routes that are in it (the app keeps every other route out) and where it is served."""
    schemes = {
        name: SecurityScheme(type="apiKey", name=header, security_scheme_in="header", description=text)
        for name, (header, text) in _HEADERS.items()
    }
    return OpenAPIConfig(
        title="kaquan Open API",
        version="1",
        description=DESCRIPTION,
        use_handler_docstrings=True,  # the handlers' docstrings are written for callers
        tags=[
            Tag(name="Catalog", description="What the caller may order, at its prices."),
            Tag(name="Orders", description="Placing orders and looking them up."),
            Tag(name="Balance", description="The caller's wallet."),
        ],
        components=Components(security_schemes=schemes),
        openapi_router=Router(SCHEMA_PATH, route_handlers=[], include_in_schema=False, opt={"exclude_from_auth": True}),
        render_plugins=[JsonRenderPlugin(media_type=MediaType.JSON)],
    )


@get(DOCS_PATH, exclude_from_auth=True, include_in_schema=False, name="api_docs")
async def docs_page() -> Template:
    """For the developers of resellers' systems: no sign-in needed, the schema is no secret."""
    return Template("api/docs.html", context={"schema_url": f"{SCHEMA_PATH}/openapi.json"})
