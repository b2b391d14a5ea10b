"""E-mail channel: SMTP through aiosmtplib (STARTTLS / implicit TLS / auth from the receiver)."""

from __future__ import annotations

import aiosmtplib

from consumers.email_render import RecipientError, render_email
from consumers.model import Task
from consumers.receivers import ReceiverBook
from schemas.errors import PermanentDeliveryError, RetryableDeliveryError


class EmailChannel:
    def __init__(self, book: ReceiverBook) -> None:
        self.book = book

    async def send(self, task: Task) -> int | None:
        receiver = self.book.get(task["receiver"])
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
        try:
            await aiosmtplib.send(
                message,
                hostname=smtp.host,
                port=smtp.port,
                use_tls=smtp.tls,
                start_tls=smtp.starttls,
                username=smtp.username,
                password=receiver.smtp_password.reveal() if receiver.smtp_password else None,
                timeout=smtp.timeout_seconds,
                cert_bundle=smtp.ca_file,
            )
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
