"""E-mail channel: SMTP through aiosmtplib (STARTTLS / implicit TLS / auth from the receiver)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage

import aiosmtplib
from aiosmtplib.email import flatten_message
from prometheus_client import Counter

from alertstream.consumers.channels import Delivered
from alertstream.consumers.email_render import RecipientError, render_email
from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ReceiverBook
from alertstream.schemas.errors import PermanentDeliveryError, RetryableDeliveryError

log = logging.getLogger(__name__)

RECIPIENTS_REFUSED = Counter(
    "alertstream_email_recipients_refused",
    "Recipients an SMTP server refused while it accepted the message for others (sent anyway).",
    ["receiver"],
)


class EmailChannel:
    def __init__(self, book: ReceiverBook) -> None:
        self.book = book

    async def send(self, task: Task) -> int | Delivered:
        receiver = self.book.for_task(task)
        cfg = receiver.config
        assert cfg.smtp is not None
        assert cfg.from_ is not None
        try:
            message = render_email(
                task["alert"], cfg.from_, cfg.to, cfg.subject_template, cfg.body_template, task["delivery_id"]
            )
        except RecipientError as exc:
            raise PermanentDeliveryError("bad_recipient", str(exc)) from None
        smtp = cfg.smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            use_tls=smtp.tls,
            start_tls=smtp.starttls,
            timeout=smtp.timeout_seconds,
            cert_bundle=smtp.ca_file,
        )
        try:
            try:
                await client.connect()
                if smtp.username:
                    password = receiver.smtp_password.reveal() if receiver.smtp_password else ""
                    await client.login(smtp.username, password)
                refused, reply = await _send(client, message, cfg.from_, cfg.to)
            finally:
                await _hang_up(client)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError("bad_recipient", f"{len(exc.recipients)} recipients refused") from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentDeliveryError("smtp_permanent", f"SMTP {exc.code}", exc.code) from None
            raise RetryableDeliveryError("smtp_transient", f"SMTP {exc.code}", exc.code) from None
        except aiosmtplib.SMTPTimeoutError:
            raise RetryableDeliveryError("timeout", "SMTP timeout") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise RetryableDeliveryError("connect_error", type(exc).__name__) from None
        if not refused:
            return reply.code
        # Some recipients took it: retrying would mail them again, so it counts as sent — with a
        # note on the outcome, a metric and a warning that give the count (never the addresses).
        detail = f"{len(refused)} of {len(cfg.to)} recipients refused"
        RECIPIENTS_REFUSED.labels(receiver=cfg.name).inc(len(refused))
        log.warning("%s: %s", cfg.name, detail)
        return Delivered(reply.code, "recipients_refused", detail)

    async def aclose(self) -> None:
        return None


async def _send(
    client: aiosmtplib.SMTP, message: EmailMessage, sender: str, recipients: list[str]
) -> tuple[dict[str, aiosmtplib.SMTPResponse], aiosmtplib.SMTPResponse]:
    """MAIL, RCPT per recipient, DATA — what ``send_message`` does (addresses are plain ASCII,
    validated by render_email), but keeping the server's final reply: its code is what the ledger
    and the outcome record, and the recipients it refused are counted."""
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    eight_bit = client.supports_extension("8BITMIME")
    flat = flatten_message(message, cte_type="8bit" if eight_bit else "7bit")
    await client.mail(sender, options=["BODY=8BITMIME"] if eight_bit else None)
    refused: dict[str, aiosmtplib.SMTPResponse] = {}
    for rcpt in recipients:
        try:
            await client.rcpt(rcpt)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused[rcpt] = aiosmtplib.SMTPResponse(exc.code, exc.message)
    if len(refused) == len(recipients):
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.rset()
        raise aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(r.code, r.message, a) for a, r in refused.items()]
        )
    return refused, await client.data(flat)


async def _hang_up(client: aiosmtplib.SMTP) -> None:
    """QUIT (also after an error), so the server ends the session, then free the socket *now*.

    aiosmtplib's ``close()`` only starts closing: after STARTTLS the TLS layer first waits for the
    server's close_notify, and the socket is freed in a later loop callback — left to the garbage
    collector if the loop stops first (SIGTERM right after a delivery, a test ending). Once QUIT
    has been answered, or the session failed, there is nothing left to say, so the transport is
    aborted: the socket closes on the next loop turn, which this waits for.
    """
    transport = client.transport
    if client.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
    client.close()
    if isinstance(transport, asyncio.Transport):  # TLS and plain transports alike
        transport.abort()
        await asyncio.sleep(0)  # abort() schedules the socket's close as the next callback
