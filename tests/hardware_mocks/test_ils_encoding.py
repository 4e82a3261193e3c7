"""Non-ASCII titles and names on the wire, in cp850, latin-1 and utf-8, with checksums over bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ils_support import Wire, logged_in, running_simulator

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from hardware_mocks.ils.app import fit_text
from sip2.messages import (
    BlockPatron,
    ItemInformation,
    ItemInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
)

AO = S.INSTITUTION
TITLES = {
    S.ITEM_TITLE_LODZ: "Łódź: Portrait of a City",
    S.ITEM_TITLE_AERO: "Ærø: Walks on a Danish Island",
    S.ITEM_TITLE_MULLER: "Familie Müller zieht um",
    S.ITEM_TITLE_NANDU: "Ñandú: Birds of the Pampas",
}


@pytest.fixture(scope="module")
def server() -> Iterator[IlsSimulator]:
    with running_simulator() as sim:
        yield sim


def checksum_holds(frame: bytes) -> bool:
    """Independent of sip2.codec: the bytes through 'AZ' plus the 4-hex value sum to 0 mod 65536."""
    body = frame.rstrip(b"\r")
    assert body[-9:-7] == b"AY" and body[-6:-4] == b"AZ", frame
    return (sum(body[:-4]) + int(body[-4:], 16)) & 0xFFFF == 0


def item_info(wire: Wire, item: str) -> tuple[ItemInformationResponse, bytes]:
    response = wire.request(ItemInformation(institution_id=AO, item_id=item))
    assert isinstance(response, ItemInformationResponse)
    return response, wire.last_raw


@pytest.mark.parametrize("encoding", ["utf-8", "cp850", "latin-1"])
def test_titles_that_fit_the_encoding_arrive_exactly(server: IlsSimulator, encoding: str) -> None:
    server.reset(encoding=encoding)
    with logged_in(server) as wire:
        for item in (S.ITEM_TITLE_AERO, S.ITEM_TITLE_MULLER, S.ITEM_TITLE_NANDU):
            response, raw = item_info(wire, item)
            assert response.title == TITLES[item]
            assert TITLES[item].encode(encoding) in raw  # the encoding's own bytes, not escapes
            assert checksum_holds(raw)


def test_utf8_carries_every_title(server: IlsSimulator) -> None:
    server.reset(encoding="utf-8")
    with logged_in(server) as wire:
        response, raw = item_info(wire, S.ITEM_TITLE_LODZ)
    assert response.title == "Łódź: Portrait of a City"
    assert b"\xc5\x81\xc3\xb3d\xc5\xba" in raw and checksum_holds(raw)


@pytest.mark.parametrize("encoding", ["cp850", "latin-1"])
def test_letters_the_encoding_lacks_lose_their_accent_or_become_a_question_mark(
    server: IlsSimulator, encoding: str
) -> None:
    """Like SIPServer: strip the accent where the base letter exists, '?' otherwise; never a
    broken connection."""
    server.reset(encoding=encoding)
    with logged_in(server) as wire:
        response, raw = item_info(wire, S.ITEM_TITLE_LODZ)
    assert response.title == "?ódz: Portrait of a City"
    assert checksum_holds(raw)


def test_cp850_bytes_for_a_patron_name(server: IlsSimulator) -> None:
    server.reset(encoding="cp850")
    patron = S.PATRON_CLEAN  # Jonas Müller
    with logged_in(server) as wire:
        response = wire.request(
            PatronStatusRequest(institution_id=AO, patron_id=patron.id, patron_password=patron.pin)
        )
        raw = wire.last_raw
    assert isinstance(response, PatronStatusResponse) and response.personal_name == "Jonas Müller"
    assert b"AEJonas M\x81ller|" in raw  # ü is 0x81 in cp850 (0xFC in latin-1, C3 BC in utf-8)
    assert checksum_holds(raw)


@pytest.mark.parametrize("encoding", ["utf-8", "cp850"])
def test_non_ascii_in_a_request_is_decoded_and_comes_back(server: IlsSimulator, encoding: str) -> None:
    server.reset(encoding=encoding)
    with logged_in(server) as wire:
        response = wire.request(
            BlockPatron(
                institution_id=AO, patron_id=S.PATRON_CLEAN.id, blocked_card_msg="Karte gesperrt: Müller"
            )
        )
    assert isinstance(response, PatronStatusResponse)
    assert "Patron account is blocked: Karte gesperrt: Müller" in response.screen_messages
    assert server.library.patron(S.PATRON_CLEAN.id).sc_block == "Karte gesperrt: Müller"


def test_a_client_with_the_wrong_encoding_still_gets_a_valid_checksum(server: IlsSimulator) -> None:
    """A misconfigured kiosk sees garbled letters, never a checksum failure (reference §4 #1, #2)."""
    server.reset(encoding="utf-8")
    with Wire(server.address, encoding="cp850") as wire:
        assert wire.login().ok
        response, raw = item_info(wire, S.ITEM_TITLE_AERO)
    assert response.title != TITLES[S.ITEM_TITLE_AERO] and checksum_holds(raw)


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("Łódź", "cp850", "?ódz"),
        ("Łódź", "ascii", "?odz"),
        ("Ærø", "ascii", "?r?"),
        ("Ñandú", "ascii", "Nandu"),
        ("a|b\rc", "utf-8", "a/b c"),
        ("Müller", "cp850", "Müller"),
    ],
)
def test_fit_text(text: str, encoding: str, expected: str) -> None:
    assert fit_text(text, encoding) == expected
