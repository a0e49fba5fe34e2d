"""Mail to buyers: SMTP when configured; otherwise a local sink (.eml files under var/mail, named in the log)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import structlog

from domain.ports import Mail

log = structlog.get_logger(__name__)


def message(mail: Mail, sender: str) -> EmailMessage:
    built = EmailMessage()
    built["From"], built["To"], built["Subject"] = sender, mail.to, mail.subject
    built["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or "localhost")
    built.set_content(mail.text)
    if mail.html:
        built.add_alternative(mail.html, subtype="html")
    return built


class SmtpMailer:
    def __init__(
        self, host: str, port: int, sender: str, *, username: str = "", password: str = "", starttls: bool = True
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls = username, password, starttls

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, message(mail, self._sender))

    def _send(self, built: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=30) as smtp:
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(built)


class DebugMailer:
    """Without SMTP: each mail is written to <var>/mail/ as an .eml file (open it, or read it in tests)."""

    def __init__(self, directory: Path, sender: str) -> None:
        self._directory, self._sender = directory, sender

    async def send(self, mail: Mail) -> None:
        built = message(mail, self._sender)
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = built["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
        path = self._directory / f"{name}.eml"
        await asyncio.to_thread(path.write_bytes, built.as_bytes())
        # The text holds redemption links: it stays in the file, never in the log.
        log.info("mail (dev sink)", to=mail.to, subject=mail.subject, file=str(path))
