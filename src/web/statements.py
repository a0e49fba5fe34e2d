"""Account statements on pages and as files: the date range in the shop's time zone, and the same lines
as CSV or XLSX — equal to the ledger to the fen. Used by the merchant's reseller pages and the portal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from litestar import Response

from adapters.codefiles import table_csv, table_xlsx
from domain.errors import ValidationFailed
from domain.ledger import AccountKind, Statement

HEADER = ("at", "kind", "reference", "memo", "amount", "balance")
ACCOUNTS = {"wallet": AccountKind.RESELLER_WALLET, "earnings": AccountKind.RESELLER_COMMISSION}
FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def read_statement(
    read: Callable[[datetime, datetime], Awaitable[Statement]], start: str, end: str, zone: ZoneInfo
) -> Statement:
    """Days in the shop's time zone, both included; by default the current month so far."""
    today = datetime.now(zone).date()
    first = _day(start, "start") or today.replace(day=1)
    last = _day(end, "end") or today
    return await read(
        datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone)
    )


def account_kind(name: str) -> AccountKind:
    """The statement's account by its name in links: the prepaid wallet, or the earnings (commission)."""
    if name not in ACCOUNTS:
        raise ValidationFailed({"account": "invalid_choice"})
    return ACCOUNTS[name]


def days(statement: Statement, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last day the statement covers, as the form shows them."""
    return statement.start.astimezone(zone).date(), (statement.end.astimezone(zone) - timedelta(days=1)).date()


def statement_file(statement: Statement, fmt: str, zone: ZoneInfo, name: str) -> Response[bytes]:
    """The statement as `fmt` (csv or xlsx): an opening row, each posting with the balance after it, a closing
    row. `name` begins the file name; the days follow."""
    if fmt not in FORMATS:
        raise ValidationFailed({"format": "invalid_choice"})
    rows: list[tuple[object, ...]] = [("", "opening", "", "", "", statement.opening.amount)]
    rows += [
        (line.at.astimezone(zone).isoformat(timespec="seconds"), line.kind, line.reference, line.memo,
         line.amount.amount, line.balance.amount)
        for line in statement.lines
    ]  # fmt: skip
    rows.append(("", "closing", "", "", "", statement.closing.amount))
    first, last = days(statement, zone)
    body = table_csv(HEADER, rows) if fmt == "csv" else table_xlsx("statement", HEADER, rows)
    return Response(
        body,
        media_type=FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{first}-{last}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


def _day(text: str, field: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed({field: "invalid_date"}) from None
