"""E-mail receipts through the site's own mail server: stdlib smtplib, STARTTLS, login from secrets.

The e-mail carries the same receipt as the paper one (the printer's templates, as plain text), so a
patron whose receipt did not print gets exactly what the paper would have said. One connection per
receipt: a kiosk sends a few an hour, and a kept-open SMTP connection would be closed by the server
long before the next one.

The patron's address comes from the ILS, so it is checked before anything is sent, and it never
appears whole in an error (staff logs are not the place for it). Nothing is ever sent unencrypted
unless the site says so: with ``security = "starttls"`` a server that does not offer STARTTLS is a
failure, not a fallback.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from kiosk.config_schema import Check, existing_file, integer, one_of, positive_number, setting, text
from kiosk.hardware.printer.layout import Masthead, layout, to_text
from kiosk.shell.outputs import Lines, OutputUnavailable

SECURITY = ("starttls", "tls", "none")
BODY_COLUMNS = 60

# Deliberately plain: one "@", no spaces, quotes, commas or angle brackets (a second address or a
# display name smuggled through the ILS field), and a dot in the domain.
_ADDRESS = re.compile(r"[^@\s\"'<>,;()\[\]\\]+@[^@\s\"'<>,;()\[\]\\]+\.[^@\s\"'<>,;()\[\]\\.]+")


def ascii_text() -> Check:
    """smtplib encodes AUTH PLAIN and LOGIN as ASCII: any other character fails at login time."""
    return Check(
        "a string of ASCII characters (Python's smtplib sends the login in ASCII)",
        lambda v: isinstance(v, str) and v.isascii(),
    )


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """[smtp]: the mail server e-mail receipts go through."""

    host: str = setting("", check=text(), doc="mail server host; empty: no e-mail receipts")
    port: int = setting(587, check=integer(1, 65535), doc="mail server port (587 submission, 465 tls)")
    security: str = setting("starttls", check=one_of(*SECURITY), doc="starttls, tls (port 465) or none")
    username: str = setting("", check=ascii_text(), doc="login user; empty: no login")
    password: str = setting("", check=ascii_text(), doc="login password", secret=True)
    from_address: str = setting("", check=text(), doc="sender address of receipts")
    tls_ca_file: str | None = setting(None, check=existing_file(), doc="CA bundle; unset: system CAs")
    timeout_seconds: float = setting(10.0, check=positive_number(), doc="connect and answer timeout")


def masked_address(address: str) -> str:
    """``j***@example.org``: enough for staff to tell addresses apart, not to write to one."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def usable_address(address: str) -> bool:
    return len(address) <= 254 and _ADDRESS.fullmatch(address) is not None


class SmtpMailer:
    """:class:`kiosk.shell.outputs.Mailer` over SMTP."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        library: str,
        footer: str = "",
        date_format: str = "%Y-%m-%d %H:%M",
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        if not settings.host:
            raise ValueError("smtp.host is empty: use kiosk.shell.outputs.NoMailer")
        if not usable_address(settings.from_address):
            raise ValueError(f"smtp.from_address {settings.from_address!r} is not an e-mail address")
        self.settings = settings
        self._masthead = Masthead(library, footer, False, date_format)
        self._now = now

    def message(self, to: str, lines: Lines) -> EmailMessage:
        """The e-mail for one receipt (public: the UI can show it before sending)."""
        now = self._now()
        printout = layout("receipt", lines, columns=BODY_COLUMNS, printed_at=now, masthead=self._masthead)
        message = EmailMessage()
        title = lines[0].text if lines else "Receipt"
        message["Subject"] = f"{self._masthead.library}: {title}"
        message["From"] = formataddr((self._masthead.library, self.settings.from_address))
        message["To"] = to
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain=self.settings.from_address.rpartition("@")[2])
        message.set_content(to_text(printout, aligned=False))
        return message

    def send(self, to: str, lines: Lines) -> None:
        to = to.strip()
        if not usable_address(to):
            raise OutputUnavailable(
                f"the library system's address for this patron ({masked_address(to)}) "
                "is not an e-mail address"
            )
        message = self.message(to, lines)
        try:
            self._deliver(message)
        except OutputUnavailable:
            raise
        except UnicodeEncodeError as exc:  # only reachable when the settings were built without checks
            raise OutputUnavailable(
                "smtp.username / smtp.password: only ASCII characters can be sent"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise OutputUnavailable(
                "mail server offers no login (AUTH): leave smtp.username empty if it needs none"
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise OutputUnavailable(
                f"mail server refused the login (smtp.username / smtp.password): {exc.smtp_code}"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise OutputUnavailable(f"mail server refused the address {masked_address(to)}") from exc
        except smtplib.SMTPSenderRefused as exc:
            raise OutputUnavailable(
                f"mail server refused the sender {self.settings.from_address}: {exc.smtp_code}"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise OutputUnavailable(
                f"mail server's certificate is not trusted: {exc.verify_message}"
            ) from exc
        except ssl.SSLError as exc:
            raise OutputUnavailable(f"TLS with the mail server failed: {exc.reason or exc}") from exc
        except smtplib.SMTPResponseException as exc:
            raise OutputUnavailable(f"mail server answered {exc.smtp_code}: {_said(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise OutputUnavailable(
                f"mail server {self.settings.host}:{self.settings.port} unreachable: "
                f"{exc or type(exc).__name__}"
            ) from exc

    def _deliver(self, message: EmailMessage) -> None:
        settings = self.settings
        context = ssl.create_default_context(cafile=settings.tls_ca_file)
        client: smtplib.SMTP
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with client:
            client.ehlo()
            if settings.security == "starttls":
                if not client.has_extn("starttls"):
                    raise OutputUnavailable(
                        "mail server does not offer STARTTLS: the receipt is not sent unencrypted "
                        '(smtp.security = "none" allows it)'
                    )
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                client.login(settings.username, settings.password)
            client.send_message(message)


def _said(error: bytes | str) -> str:
    words = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return " ".join(words.split())[:200]


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_smtp(settings: Any, origin: Any) -> Iterator[str]:
    """Cross-key checks of [smtp] (a ``kiosk.config.CrossCheck``: settings, provenance -> lines)."""
    smtp: SmtpSettings = settings.smtp
    if settings.circulation.email_receipts and not smtp.host:
        yield (
            f"{origin.label('circulation.email_receipts')}: circulation.email_receipts: "
            "true needs a mail server: set smtp.host (and smtp.from_address)"
        )
    if not smtp.host:
        return
    if not usable_address(smtp.from_address):
        yield (
            f"{origin.label('smtp.from_address')}: smtp.from_address: expected an e-mail address such as "
            f'"library@example.org" (smtp.host is set), got "{smtp.from_address}"'
        )
    if smtp.security == "none" and smtp.username and not _is_loopback(smtp.host):
        yield (
            f'{origin.label("smtp.security")}: smtp.security: expected "starttls" or "tls" when logging in '
            f'to {smtp.host} (the password would cross the network in clear), got "none"'
        )
