"""The PyPI ``sip2`` 1.1 client (module ``Sip2``, a port of cap60552/php-sip2) against our server side.

Quirks of that client, read in its source and measured here (shared/reference/sip2.md §3.3):

* ``Sip2()`` writes ``sip2.log`` into the working directory on first connect unless ``log`` is
  set beforehand.
* It opens with a TLS handshake unless ``tlsEnable = False``. Against a plain SIP2 port the
  ClientHello reaches our server as two garbage "frames" (answered 96, logged), the handshake
  fails with "wrong version number", and it falls back to a plain connection.
* ``withSeq``/``withCrc`` are separate switches (AY without AZ is not SIP2); the tests switch both.
* Its checksum sums ``ord()`` of characters, not the encoded bytes: any non-ASCII character in a
  request gives a wrong checksum (pain point §4 #1); our server answers 96, which ``Sip2`` does not
  understand (it hands the 96 back as if it were the response).
* Its response check ``_crc_verify`` can never fail (``(a > b and a < b) == 0`` is always true),
  so it never verifies our checksums: we check them with pysip2's independent verifier instead.
* ``Sip2Wrapper`` refuses to send a checkout (returns False, nothing goes on the wire) for a patron
  WITHOUT blocks: it tests patron-status position 0 ``!= 'Y'``, the inverted "denied" logic.
* ``Sip2Wrapper.sip_patron_status`` sends a 63 but only if BX claims 23; without it the wrapper
  crashes with a TypeError in ``login_patron``.
* Checkout sends a blank nb due date and ``BON|BIN|``; checkin sends the return date as now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pysip2
import pytest
from Sip2.sip2 import Sip2
from Sip2.wrapper import Sip2Wrapper

from hardware_mocks.ils import IlsSimulator
from sip2.fields import PatronStatus

pytestmark = pytest.mark.peer

SC_USER, SC_PASSWORD = "kiosk", "secret"
INSTITUTION = "demo"

# From the simulated ILS's sample library (hardware_mocks/ils/sample_library.json)
PATRON, PIN, PATRON_NAME = "21234000000026", "2222", "Jonas Müller"  # valid, nothing on loan
BLOCKED, BLOCKED_PIN = "21234000000059", "5555"  # blocked by staff: charge privileges denied
HOBBIT, MOBY, AERO = "31234000000016", "31234000000032", "31234000000123"
TITLES = {HOBBIT: "The Hobbit", MOBY: "Moby-Dick", AERO: "Ærø: Walks on a Danish Island"}


@dataclass
class Target:
    sim: IlsSimulator
    encoding: str

    @property
    def port(self) -> int:
        return self.sim.address[1]

    def applied(self, code: str, item: str) -> int:
        """Ledger rows of ``code`` for ``item`` that changed the library (refusals excluded)."""
        return self.sim.library.applied(code, item=item)

    def attempts(self, code: str) -> int:
        return self.sim.library.count(message=code)


@pytest.fixture(params=["cp850", "utf-8"])
def target(request) -> Iterator[Target]:
    """The simulated ILS (a fresh in-memory sample library) on a free loopback port."""
    with IlsSimulator(accounts={SC_USER: SC_PASSWORD}, encoding=request.param) as sim:
        yield Target(sim, request.param)


def make_sip2(target: Target, *, crc: bool, location: str = "kiosk1") -> Sip2:
    sip = Sip2()
    sip.log = logging.getLogger("tests.peers.Sip2")  # set before connect(): no sip2.log in the cwd
    sip.hostName, sip.hostPort = "127.0.0.1", target.port
    sip.tlsEnable = False  # else it opens with a TLS ClientHello on our plain port
    sip.socketTimeout = 2
    sip.hostEncoding = target.encoding
    sip.withCrc = sip.withSeq = crc
    sip.institutionId = INSTITUTION
    sip.scLocation = location
    return sip


@pytest.fixture
def sip2_client(target: Target) -> Iterator:
    made: list[Sip2] = []

    def make(*, crc: bool, location: str = "kiosk1") -> Sip2:
        sip = make_sip2(target, crc=crc, location=location)
        made.append(sip)
        return sip

    yield make
    for sip in made:
        if sip._socket is not None:
            sip.disconnect()


def assert_checksum_ok(sip: Sip2, response: str, crc: bool) -> None:
    """Our server's checksum, checked by pysip2 (Sip2's own check is a no-op)."""
    raw = response.encode(sip.hostEncoding)
    assert raw.endswith(b"\r")
    if crc:
        assert raw[-10:-7] == b"AY" + str(sip._seq).encode()
        assert pysip2.verify_checksum(raw[:-1])
    else:
        assert b"AZ" not in raw


def login_and_status(sip: Sip2) -> dict:
    sip.connect()
    login = sip.sip_login_response(sip.get_response(sip.sip_login_request(SC_USER, SC_PASSWORD)))
    assert login["fixed"]["Ok"] == "1"
    return sip.sip_sc_status_response(sip.get_response(sip.sip_sc_status_request()))


@pytest.mark.parametrize("crc", [True, False], ids=["withCrc", "noCrc"])
def test_login_patron_information_checkout_checkin(target: Target, sip2_client, crc: bool) -> None:
    sip = sip2_client(crc=crc)
    status = login_and_status(sip)
    assert_checksum_ok(sip, sip.last_response, crc)
    assert status["fixed"]["OnlineStatus"] == "Y" and status["fixed"]["CheckoutOk"] == "Y"
    assert status["variable"]["AO"] == [INSTITUTION]
    assert status["variable"]["AN"] == ["kiosk1"]  # the location Sip2 sent in its login
    assert status["variable"]["BX"][0][:3] == "YYY"  # 23, checkout, checkin

    sip.patron, sip.patronpwd = PATRON, PIN
    info = sip.sip_patron_information_response(sip.get_response(sip.sip_patron_information_request("none")))
    assert_checksum_ok(sip, sip.last_response, crc)
    assert info["variable"]["AE"] == [PATRON_NAME]  # non-ASCII, in both encodings
    assert info["variable"]["BL"] == ["Y"] and info["variable"]["CQ"] == ["Y"]
    assert PatronStatus.decode(info["fixed"]["PatronStatus"]) == PatronStatus()
    assert info["fixed"]["ChargedItemsCount"] == "0000"

    for item in (HOBBIT, AERO):
        out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(item)))
        assert_checksum_ok(sip, sip.last_response, crc)
        assert out["fixed"]["Ok"] == "1" and out["fixed"]["Desensitize"] == "Y"
        assert out["variable"]["AB"] == [item] and out["variable"]["AJ"] == [TITLES[item]]
        assert len(out["variable"]["AH"][0]) == 18  # a SIP2 date: the ILS's own due date
        assert target.applied("11", item) == 1

    request = sip.sip_patron_information_request("charged")
    charged = sip.sip_patron_information_response(sip.get_response(request))
    assert charged["fixed"]["ChargedItemsCount"] == "0002"
    assert sorted(charged["variable"]["AU"]) == sorted([HOBBIT, AERO])

    for item in (HOBBIT, AERO):
        back = sip.sip_checkin_response(sip.get_response(sip.sip_checkin_request(item)))
        assert_checksum_ok(sip, sip.last_response, crc)
        assert back["fixed"]["Ok"] == "1" and back["fixed"]["Resensitize"] == "Y"
        assert back["variable"]["AB"] == [item] and back["variable"]["AA"] == [PATRON]
        assert target.applied("09", item) == 1

    end = sip.sip_end_patron_session_response(sip.get_response(sip.sip_end_patron_session_request()))
    assert end["fixed"]["EndSession"] == "Y"
    # every circulation request reached the ILS once and was applied once: nothing refused, nothing doubled
    assert [(e.message, e.item, e.outcome) for e in target.sim.library.ledger()] == [
        ("11", HOBBIT, "checked_out"), ("11", AERO, "checked_out"),
        ("09", HOBBIT, "checked_in"), ("09", AERO, "checked_in"),
    ]


@pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")  # in Sip2's code
def test_its_tls_probe_is_survived_by_our_plain_server(target: Target, sip2_client, caplog) -> None:
    """Bad input gets a 96 and a log line; the server keeps serving, the same client included."""
    caplog.set_level(logging.WARNING, logger="sip2.server")
    sip = sip2_client(crc=True)
    sip.tlsEnable = True  # the library's default
    status = login_and_status(sip)
    assert status["fixed"]["OnlineStatus"] == "Y"
    sip.patron, sip.patronpwd = PATRON, PIN
    out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(MOBY)))
    assert out["fixed"]["Ok"] == "1" and target.applied("11", MOBY) == 1
    assert any("bad frame" in r.getMessage() for r in caplog.records if r.name == "sip2.server")


def test_wrong_sc_password_is_refused(target: Target, sip2_client) -> None:
    sip = sip2_client(crc=True)
    sip.connect()
    login = sip.sip_login_response(sip.get_response(sip.sip_login_request(SC_USER, "wrong")))
    assert login["fixed"]["Ok"] == "0"


def test_sip2_checksums_characters_not_bytes(target: Target, sip2_client) -> None:
    """A non-ASCII location makes Sip2's checksum wrong; our server asks for a resend (96)."""
    sip = sip2_client(crc=True, location="Zweigstelle Süd")
    sip.connect()
    response = sip.get_response(sip.sip_login_request(SC_USER, SC_PASSWORD))
    assert response == "96AZFEF6\r"
    # the same login without a checksum is accepted: only the checksum was wrong
    sip.withCrc = sip.withSeq = False
    status = login_and_status(sip)
    assert status["variable"]["AN"] == ["Zweigstelle Süd"]


def test_wrapper_patron_status_logic_is_inverted(target: Target) -> None:
    """Sip2Wrapper stops the patron in good standing and lets the blocked patron's checkout out."""
    wrapper = Sip2Wrapper({
        "log": logging.getLogger("tests.peers.Sip2"), "hostName": "127.0.0.1", "hostPort": target.port,
        "tlsEnable": False, "socketTimeout": 2, "hostEncoding": target.encoding, "withCrc": True,
        "withSeq": True, "institutionId": INSTITUTION, "scLocation": "kiosk1",
    })
    try:
        assert wrapper.login_device(SC_USER, SC_PASSWORD) is True
        assert wrapper.login_patron(PATRON, PIN) is True
        good = PatronStatus.decode(wrapper.get_patron_status()["fixed"]["PatronStatus"])
        assert not good.blocks_checkout
        assert wrapper.sip_item_checkout(MOBY) is False
        assert target.attempts("11") == 0  # nothing went to the ILS

        assert wrapper.login_patron(BLOCKED, BLOCKED_PIN) is True
        blocked = PatronStatus.decode(wrapper.get_patron_status()["fixed"]["PatronStatus"])
        assert blocked.charge_privileges_denied
        refused = wrapper.sip_item_checkout(MOBY)
        assert refused["fixed"]["Ok"] == "0"  # the wrapper sent it; the ILS said no
        assert target.attempts("11") == 1 and target.applied("11", MOBY) == 0
    finally:
        wrapper.disconnect()
