"""E-mail receipts against a real SMTP server on loopback: aiosmtpd, an independent implementation of
SMTP, STARTTLS and AUTH (RFC 5321/3207/4954), so the client is checked against someone else's reading
of the protocol, not against a server written to agree with it. TLS uses a throwaway trustme CA."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kiosk.circulation.commands import EmailReceipt, PrintReceipt, ReceiptLine
from kiosk.circulation.events import Emailed, Printed
from kiosk.hardware.mailer import SmtpMailer, SmtpSettings, check_smtp, masked_address, usable_address
from kiosk.shell.outputs import NoPrinter, Outputs, OutputUnavailable

AT = datetime(2025, 3, 1, 14, 5, tzinfo=UTC)
USER, PASSWORD = "kiosk", "s3cret-pw"
LINES = (
    ReceiptLine("Library receipt", bold=True),
    ReceiptLine("Card: ****1234"),
    ReceiptLine("Borrowed", bold=True),
    ReceiptLine("Müller, Ærø: Łódź"),
    ReceiptLine("  due 2025-03-15"),
    ReceiptLine(".hidden line that starts with a dot"),
    ReceiptLine("  due 2025-03-15"),
)


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps every message, can refuse a recipient."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and (auth_data.password == PASSWORD.encode())
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 235 / 535 itself


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    inbox: Inbox
    port: int


def _start(handler: Inbox, **smtp_kwargs) -> tuple[Controller, int]:
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_kwargs)
    controller.start()
    return controller, port


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[Server]:
    inbox = Inbox()
    controller, port = _start(
        inbox,
        tls_context=_server_context(ca),
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    yield Server(inbox, port)
    controller.stop()


@pytest.fixture
def plain_server() -> Iterator[Server]:
    inbox = Inbox()
    controller, port = _start(inbox)
    yield Server(inbox, port)
    controller.stop()


def _settings(port: int, ca_file: str | None, **changes) -> SmtpSettings:
    base = SmtpSettings(
        host="localhost",
        port=port,
        username=USER,
        password=PASSWORD,
        from_address="library@example.org",
        tls_ca_file=ca_file,
        timeout_seconds=5.0,
    )
    return replace(base, **changes)


def _mailer(settings: SmtpSettings) -> SmtpMailer:
    return SmtpMailer(settings, library="Stadtbücherei", footer="Danke!", now=lambda: AT)


def test_receipt_goes_out_over_starttls_with_login(starttls_server: Server, ca_file: str) -> None:
    _mailer(_settings(starttls_server.port, ca_file)).send("jane.doe@example.net", LINES)

    ((sender, recipients, raw),) = starttls_server.inbox.messages
    assert sender == "library@example.org"
    assert recipients == ["jane.doe@example.net"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Stadtbücherei: Library receipt"
    assert message["To"] == "jane.doe@example.net"
    assert message["Date"] == "Sat, 01 Mar 2025 14:05:00 +0000"
    body = message.get_content().replace("\r\n", "\n")
    assert "Müller, Ærø: Łódź\n  due 2025-03-15\n" in body
    # a line starting with "." survives SMTP's dot-stuffing both ways
    assert "\n.hidden line that starts with a dot\n" in body
    assert body.splitlines()[0] == "Stadtbücherei"
    assert "Borrowed" in body.splitlines()[-3] and body.splitlines()[-3].endswith("2")
    assert body.splitlines()[-1] == "Danke!"
    assert PASSWORD not in raw.decode("utf-8", "replace")


def test_implicit_tls_on_its_own_port(ca: trustme.CA, ca_file: str) -> None:
    inbox = Inbox()
    # aiosmtpd counts only STARTTLS as TLS for AUTH; on an implicit-TLS port it must be told
    controller, port = _start(
        inbox, ssl_context=_server_context(ca), authenticator=_authenticate, auth_require_tls=False
    )
    try:
        _mailer(_settings(port, ca_file, security="tls")).send("jane@example.net", LINES)
    finally:
        controller.stop()
    assert [to for _, to, _ in inbox.messages] == [["jane@example.net"]]


def test_untrusted_certificate_is_refused_and_nothing_is_sent(starttls_server: Server) -> None:
    # no CA file: the system store does not know the trustme CA
    with pytest.raises(OutputUnavailable, match="certificate is not trusted"):
        _mailer(_settings(starttls_server.port, None)).send("jane@example.net", LINES)
    assert starttls_server.inbox.messages == []


def test_a_server_without_starttls_gets_nothing_in_clear(plain_server: Server, ca_file: str) -> None:
    with pytest.raises(OutputUnavailable, match="does not offer STARTTLS"):
        _mailer(_settings(plain_server.port, ca_file)).send("jane@example.net", LINES)
    assert plain_server.inbox.messages == []


def test_plain_delivery_when_the_site_chose_it(plain_server: Server) -> None:
    _mailer(_settings(plain_server.port, None, security="none", username="")).send("jane@example.net", LINES)
    assert len(plain_server.inbox.messages) == 1


def test_wrong_password_says_so_without_the_password(starttls_server: Server, ca_file: str) -> None:
    with pytest.raises(OutputUnavailable, match="refused the login") as caught:
        _mailer(_settings(starttls_server.port, ca_file, password="wrong")).send("jane@example.net", LINES)
    assert "wrong" not in str(caught.value)
    assert starttls_server.inbox.messages == []


def test_refused_recipient_is_named_masked(starttls_server: Server, ca_file: str) -> None:
    starttls_server.inbox.refuse.add("jane.doe@example.net")
    with pytest.raises(OutputUnavailable) as caught:
        _mailer(_settings(starttls_server.port, ca_file)).send("jane.doe@example.net", LINES)
    assert "j***@example.net" in str(caught.value)
    assert "jane.doe" not in str(caught.value)


def test_a_server_that_offers_no_login(plain_server: Server) -> None:
    with pytest.raises(OutputUnavailable, match="offers no login"):
        _mailer(_settings(plain_server.port, None, security="none")).send("jane@example.net", LINES)
    assert plain_server.inbox.messages == []


def test_unreachable_server_is_a_clear_failure(ca_file: str) -> None:
    with pytest.raises(OutputUnavailable, match="unreachable"):
        _mailer(_settings(_free_port(), ca_file)).send("jane@example.net", LINES)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "jane",
        "jane@",
        "@example.org",
        "jane@example",
        "a@b@example.org",
        "jane doe@example.org",
        "jane@example.org, boss@example.org",
        "Jane <jane@example.org>",
        "jane@example.org\r\nBcc: x@y.org",
    ],
)
def test_addresses_from_the_ils_are_checked_before_connecting(address: str) -> None:
    # port 9 on loopback: if the mailer tried to connect, the error would say "unreachable"
    mailer = _mailer(_settings(9, None))
    with pytest.raises(OutputUnavailable, match="is not an e-mail address"):
        mailer.send(address, LINES)


def test_masking_and_accepted_addresses() -> None:
    assert masked_address("jane.doe@example.net") == "j***@example.net"
    assert masked_address("nobody") == "***"
    assert usable_address("o'brien@example.ie") is False  # quotes refused: simple beats clever here
    assert usable_address("jane.doe+lib@mail.example.co.uk")


def test_paper_failure_then_email_sends_the_same_lines(starttls_server: Server, ca_file: str) -> None:
    """Nothing is lost when the printer cannot print: the e-mail carries the very same lines."""
    outputs = Outputs(printer=NoPrinter(), mailer=_mailer(_settings(starttls_server.port, ca_file)))
    printed = outputs.perform(PrintReceipt("r1", LINES))
    emailed = outputs.perform(EmailReceipt("r2", "jane@example.net", LINES))
    assert printed == Printed("r1", False, "no printer configured")
    assert emailed == Emailed("r2", True, "")
    body = email.message_from_bytes(
        starttls_server.inbox.messages[0][2], policy=email.policy.default
    ).get_content()
    assert all(line.text in body for line in LINES)


def _origin() -> SimpleNamespace:
    return SimpleNamespace(label=lambda key: "/etc/kiosk/kiosk.toml")


def test_cross_checks() -> None:
    def problems(smtp: SmtpSettings, email_receipts: bool = True) -> list[str]:
        settings = SimpleNamespace(smtp=smtp, circulation=SimpleNamespace(email_receipts=email_receipts))
        return list(check_smtp(settings, _origin()))

    assert problems(SmtpSettings(), email_receipts=False) == []
    assert problems(SmtpSettings()) == [
        "/etc/kiosk/kiosk.toml: circulation.email_receipts: true needs a mail server: set smtp.host "
        "(and smtp.from_address)"
    ]
    assert problems(SmtpSettings(host="mail.example.org", from_address="library@example.org")) == []
    [line] = problems(SmtpSettings(host="mail.example.org"))
    assert "smtp.from_address: expected an e-mail address" in line
    [line] = problems(
        SmtpSettings(host="mail.example.org", from_address="l@example.org", security="none", username="kiosk")
    )
    assert "password would cross the network in clear" in line
    assert (
        problems(
            SmtpSettings(host="127.0.0.1", from_address="l@example.org", security="none", username="kiosk")
        )
        == []
    )


def test_login_must_be_ascii_because_smtplib_sends_it_so() -> None:
    check = dataclasses.fields(SmtpSettings)[
        [f.name for f in dataclasses.fields(SmtpSettings)].index("password")
    ]
    assert check.metadata["check"].accepts("s3cret-pw")
    assert not check.metadata["check"].accepts("s3cret-ü")
    assert check.metadata["secret"]


def test_a_non_ascii_password_that_slipped_through_is_a_clear_failure(
    starttls_server: Server, ca_file: str
) -> None:
    with pytest.raises(OutputUnavailable, match="only ASCII"):
        _mailer(_settings(starttls_server.port, ca_file, password="s3cret-ü")).send("jane@example.net", LINES)


def test_settings_refuse_a_mailer_without_server_or_sender() -> None:
    with pytest.raises(ValueError, match=r"smtp\.host is empty"):
        SmtpMailer(SmtpSettings(), library="x")
    with pytest.raises(ValueError, match="from_address"):
        SmtpMailer(SmtpSettings(host="mail.example.org"), library="x")


def test_ca_file_fixture_is_pem(ca_file: str) -> None:
    assert Path(ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
