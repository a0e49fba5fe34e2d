"""A reseller's account statements on pages and as files: the date range in the shop's time zone, and the
same lines as CSV or XLSX — equal to the ledger to the fen. The merchant's reseller pages and the portal
both read them through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response

from adapters.codefiles import table_csv, table_xlsx
from domain.errors import ValidationFailed
from domain.ledger import AccountKind, Statement
from domain.money import Money
from domain.services.resellers import Resellers
from web.days import parse_day, start_of

HEADER = ("at", "kind", "reference", "memo", "amount", "balance")
ACCOUNTS = {"wallet": AccountKind.RESELLER_WALLET, "earnings": AccountKind.RESELLER_COMMISSION}
FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True, slots=True)
class StatementRequest:
    """Which statement a page or a file asks for: the account by its name in links, and the days (both
    included; by default the current month so far)."""

    reseller_id: int
    account: str = "wallet"
    start: str = ""
    end: str = ""

    async def read(self, resellers: Resellers, zone: ZoneInfo) -> Statement:
        if self.account not in ACCOUNTS:
            raise ValidationFailed({"account": "invalid_choice"})
        today = datetime.now(zone).date()
        first = parse_day(self.start, "start") or today.replace(day=1)
        last = parse_day(self.end, "end") or today
        try:
            end = start_of(last + timedelta(days=1), zone)
        except OverflowError:  # 9999-12-31: there is no day after
            raise ValidationFailed({"end": "invalid_date"}) from None
        return await resellers.statement(self.reseller_id, start_of(first, zone), end, ACCOUNTS[self.account])

    async def context(self, resellers: Resellers, zone: ZoneInfo, url: str) -> dict[str, Any]:
        """What templates/ledger/_statement.html needs; its exports live under `url`."""
        statement = await self.read(resellers, zone)
        return {"statement": statement, "account": self.account, "days": days(statement, zone), "statement_url": url}

    async def download(
        self, request: Request[Any, Any, Any], resellers: Resellers, zone: ZoneInfo, name: str
    ) -> Response[bytes]:
        """The statement as the file the path ends in (.csv or .xlsx); `name` begins the file's name."""
        return statement_file(await self.read(resellers, zone), request.url.path.rsplit(".", 1)[-1], zone, name)


def days(statement: Statement, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last day the statement covers, as the form shows them."""
    return statement.start.astimezone(zone).date(), (statement.end.astimezone(zone) - timedelta(days=1)).date()


def statement_file(statement: Statement, fmt: str, zone: ZoneInfo, name: str) -> Response[bytes]:
    """The statement as `fmt` (csv or xlsx): an opening row, each posting with the balance after it, a closing
    row. The days follow `name` in the file's name."""
    if fmt not in FORMATS:
        raise ValidationFailed({"format": "invalid_choice"})
    rows: list[tuple[object, ...]] = [("", "opening", "", "", "", _number(statement.opening))]
    rows += [
        (line.at.astimezone(zone).isoformat(timespec="seconds"), line.kind, line.reference, line.memo,
         _number(line.amount), _number(line.balance))
        for line in statement.lines
    ]  # fmt: skip
    rows.append(("", "closing", "", "", "", _number(statement.closing)))
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


def _number(money: Money) -> Decimal:
    """Amounts as numbers, exact to the fen: a spreadsheet adds them up; a debit is a negative number."""
    return Decimal(money.amount)
