"""E-mail channel: SMTP through aiosmtplib (STARTTLS / implicit TLS / auth from the receiver)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiosmtplib

from alertstream.consumers.email_render import RecipientError, render_email
from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ReceiverBook
from alertstream.schemas.errors import PermanentDeliveryError, RetryableDeliveryError

log = logging.getLogger(__name__)


class EmailChannel:
    def __init__(self, book: ReceiverBook) -> None:
        self.book = book

    async def send(self, task: Task) -> int | None:
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
                refused, _ = await client.send_message(message)
            finally:
                await _hang_up(client)
            if refused:
                # Some recipients took it: retrying would mail them again, so this counts as sent.
                log.warning("%s: %d of %d recipients refused", cfg.name, len(refused), len(cfg.to))
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
        return 250

    async def aclose(self) -> None:
        return None


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
