"""Buyer mail over real SMTP: the adapter speaks to a (minimal) SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy

from adapters.notify.mail import SmtpMailer
from domain.ports import Mail


class SmtpSink:
    """Just enough SMTP (EHLO, MAIL, RCPT, DATA, QUIT) to receive one message per connection."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 sink ready")
        sender, recipients = "", []
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                say("250 sink")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].strip()
                say("250 ok")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip())
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                await writer.drain()
                body = await reader.readuntil(b"\r\n.\r\n")
                self.messages.append((sender, recipients, body[: -len(b".\r\n")]))  # the last CRLF is the text's
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                break
            else:
                say("502 not here")
            await writer.drain()
        await writer.drain()
        writer.close()


async def test_a_mail_goes_over_smtp_with_sender_recipient_and_text():
    sink = SmtpSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        mailer = SmtpMailer("127.0.0.1", port, "Shop <shop@example.com>", starttls=False)
        await mailer.send(Mail(to="buyer@example.com", subject="订单已发货", text="链接：https://shop/r/abc\n"))
    finally:
        server.close()
    ((sender, recipients, data),) = sink.messages
    assert sender == "<shop@example.com>" and recipients == ["<buyer@example.com>"]
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["Subject"] == "订单已发货" and parsed["To"] == "buyer@example.com"
    assert parsed.get_content().splitlines() == ["链接：https://shop/r/abc"]
