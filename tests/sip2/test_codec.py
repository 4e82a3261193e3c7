"""The codec against frames captured from a real server, and its properties under hypothesis."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sip2_strategies import ASCII_SAFE, LATIN, UNICODE_SAFE, any_message, messages

from sip2 import codec
from sip2 import messages as m
from sip2.codec import _decode_text_generic, _encode_text_generic, checksum, decode, decode_frame, encode
from sip2.errors import ChecksumError, SIP2DecodeError, SIP2EncodeError, UnknownCommandError
from sip2.fields import PatronStatus, Summary, SupportedMessages, ZoneLabel, decode_date, encode_date

# Transcript captured from evergreen-library-system/SIPServer (shared/reference/sip2.md §3.1),
# error detection on. Every frame must decode strictly and re-encode to the same bytes.
SIPSERVER_TRANSCRIPT = [
    b"9300CNscclient|COclientpwd|CPkiosk1|AY0AZF134\r",
    b"941AY0AZFDFD\r",
    b"9900302.00AY1AZFCA5\r",
    b"98YNNYNN60000320261127    0040062.00AOUWOLS|BXYYYYYYYYYNYNYYYY|AY1AZEDE1\r",
    b"2300120261127    004006AOUWOLS|AAdjfiander|AC|AD6789|AY2AZF03A\r",
    b"24  Y           00120261127    004006AOUWOLS|AAdjfiander|AEDavid J. Fiander|BLY|CQY|AY2AZE7F8\r",
    b"11YN20261127    004006                  AOUWOLS|AAdjfiander|AB1565921879|AC|AY4AZECB0\r",
    b"121NNY20261127    004006AOUWOLS|AAdjfiander|AB1565921879|AJPerl 5 desktop reference|"
    b"AH20261211    004006|CK001|AY4AZDFBF\r",
    b"09N20261127    00400620261127    004006APkiosk1|AOUWOLS|AB1565921879|AC|AY1AZED4C\r",
    b"101YNN20261127    004006AOUWOLS|AB1565921879|AQ|AJPerl 5 desktop reference|AAdjfiander|CK001|AY1AZE2F4\r",
]


@pytest.mark.parametrize("frame", SIPSERVER_TRANSCRIPT, ids=lambda f: f[:2].decode())
def test_captured_frames_round_trip_byte_exactly(frame: bytes) -> None:
    decoded = decode_frame(frame, strict=True)
    assert decoded.had_checksum
    assert encode(decoded.message, sequence=decoded.sequence) == frame


def test_checksum_of_the_reference_login() -> None:
    assert checksum(b"9300CNscclient|COclientpwd|CPkiosk1|AY0AZ") == "F134"
    assert encode(
        m.Login(login_user_id="scclient", login_password="clientpwd", location_code="kiosk1"), sequence=0
    ) == b"9300CNscclient|COclientpwd|CPkiosk1|AY0AZF134\r"


def test_resend_messages_carry_the_hard_coded_checksums() -> None:
    # Koha C4/SIP/Sip/Constants.pm and SIPServer hard-code these two frames.
    assert encode(m.RequestACSResend(), error_detection=True) == b"97AZFEF5\r"
    assert encode(m.RequestSCResend(), error_detection=True) == b"96AZFEF6\r"
    assert isinstance(decode(b"96AZFEF6\r"), m.RequestSCResend)
    assert isinstance(decode(b"97\r"), m.RequestACSResend)


def test_checkout_decodes_to_named_typed_fields() -> None:
    msg = decode(SIPSERVER_TRANSCRIPT[7])
    assert isinstance(msg, m.CheckoutResponse)
    assert msg.ok is True and msg.renewal_ok is False
    assert msg.magnetic_media is False and msg.desensitize is True
    assert msg.transaction_date == datetime(2026, 11, 27, 0, 40, 6)
    assert msg.title == "Perl 5 desktop reference"
    assert msg.due_date == "20261211    004006"
    assert msg.media_type == "001"


def test_patron_status_polarity_is_explicit() -> None:
    msg = decode(SIPSERVER_TRANSCRIPT[5])
    assert isinstance(msg, m.PatronStatusResponse)
    assert msg.patron_status.recall_privileges_denied is True  # position 2 is 'Y'
    assert msg.patron_status.charge_privileges_denied is False
    assert msg.patron_status.problems == ("recall_privileges_denied",)
    assert msg.patron_status.blocks_checkout is False
    assert msg.valid_patron is True and msg.valid_patron_password is True


@pytest.mark.parametrize(
    ("flag", "blocks"),
    [
        ("charge_privileges_denied", True),
        ("renewal_privileges_denied", False),
        ("recall_privileges_denied", False),
        ("hold_privileges_denied", False),
        ("card_reported_lost", True),
        ("excessive_outstanding_fines", True),
        ("too_many_items_charged", True),
        ("too_many_renewals", False),
    ],
)
def test_which_patron_status_flags_block_a_checkout(flag: str, blocks: bool) -> None:
    assert PatronStatus(**{flag: True}).blocks_checkout is blocks


def test_patron_status_wire_positions() -> None:
    status = PatronStatus(charge_privileges_denied=True, too_many_items_billed=True)
    assert status.encode() == "Y" + " " * 12 + "Y"
    assert PatronStatus.decode("Y" + " " * 12 + "Y") == status


def test_dates_local_utc_and_labelled_zones() -> None:
    assert encode_date(datetime(2026, 11, 27, 0, 39, 55)) == "20261127    003955"
    assert encode_date(datetime(2026, 11, 27, 0, 39, 55, tzinfo=UTC)) == "20261127   Z003955"
    assert encode_date(None) == " " * 18
    assert decode_date("20261127   Z003955") == datetime(2026, 11, 27, 0, 39, 55, tzinfo=UTC)
    labelled = decode_date("20261127 EST003955")
    assert labelled is not None and labelled.tzinfo == ZoneLabel(" EST")
    assert encode_date(labelled) == "20261127 EST003955"
    with pytest.raises(ValueError):
        decode_date("2026112X    003955")


def test_summary_position_selects_the_item_list() -> None:
    frame = encode(m.PatronInformation(institution_id="I", patron_id="P", summary=Summary.CHARGED_ITEMS))
    assert frame[2 + 3 + 18 : 2 + 3 + 18 + 10] == b"  Y       "
    assert decode(frame).summary is Summary.CHARGED_ITEMS


def test_supported_messages_bx() -> None:
    bx = SupportedMessages.decode("YYYYYYYYYNYNYYYY")
    assert "11" in bx and "37" not in bx and "19" not in bx


def test_repeatable_fields_keep_order_and_duplicates() -> None:
    # SIPServer lists the same charged item several times and sends empty AT| fields (§3.1).
    frame = (
        b"64              00120261127    004006000000000003000000000000AOUWOLS|AAdjfiander|AEDavid|"
        b"AT|AT|AU1565921879|AU1565921879|AU0440242746|AFHello|AFWorld|\r"
    )
    msg = decode(frame)
    assert isinstance(msg, m.PatronInformationResponse)
    assert msg.charged_items == ("1565921879", "1565921879", "0440242746")
    assert msg.overdue_items == ("", "")
    assert msg.screen_messages == ("Hello", "World")
    assert msg.charged_items_count == 3
    assert encode(msg) == frame


def test_unknown_vendor_fields_are_kept_in_order_and_reencoded() -> None:
    frame = b"101YNN20261127    004006AOUWOLS|AB1|AQmain|ZZfirst|CL3|XQsecond|ZZthird|\r"
    msg = decode(frame)
    assert isinstance(msg, m.CheckinResponse)
    assert msg.sort_bin == "3"
    assert msg.extra == (("ZZ", "first"), ("XQ", "second"), ("ZZ", "third"))
    assert msg.field("XQ") == "second"
    again = decode(encode(msg))
    assert again == msg


def test_three_m_extension_fields_are_named() -> None:
    frame = b"101YNY20261127    004006AOUWOLS|AB1|AQmain|CLHOLD|CV02|CTbranch2|CSQA76|CRfic|CY214|DAAnn Smith|\r"
    msg = decode(frame, strict=True)
    assert isinstance(msg, m.CheckinResponse)
    assert (msg.alert_type, msg.destination_location, msg.call_number) == ("02", "branch2", "QA76")
    assert (msg.collection_code, msg.hold_patron_id, msg.hold_patron_name) == ("fic", "214", "Ann Smith")


def test_tolerant_by_default_strict_on_request() -> None:
    duplicated = b"24              00120261127    004006AOI|AAp|AEName|AEOther|\r"
    msg = decode(duplicated)
    assert isinstance(msg, m.PatronStatusResponse)
    assert msg.personal_name == "Name" and msg.extra == (("AE", "Other"),)
    with pytest.raises(SIP2DecodeError, match="repeated"):
        decode(duplicated, strict=True)

    missing_required = b"24              00120261127    004006AOI|\r"
    assert decode(missing_required).patron_id == ""
    with pytest.raises(SIP2DecodeError, match="missing required field"):
        decode(missing_required, strict=True)

    empty_and_unterminated = b"24              00120261127    004006AOI||AAp|AEName"
    tolerant = decode(empty_and_unterminated)
    assert tolerant.personal_name == "Name"
    with pytest.raises(SIP2DecodeError):
        decode(empty_and_unterminated, strict=True)

    odd_flag = b"24              00120261127    004006AOI|AAp|AEName|BLX|\r"
    assert decode(odd_flag).extra == (("BL", "X"),)
    with pytest.raises(SIP2DecodeError):
        decode(odd_flag, strict=True)


def test_terminators_cr_crlf_and_none_are_accepted() -> None:
    base = b"941"
    assert decode(base + b"\r") == decode(base + b"\r\n") == decode(base)


def test_checksum_is_over_encoded_bytes_not_characters() -> None:
    msg = m.CheckoutResponse(
        ok=True, institution_id="LIB", patron_id="p", item_id="i", title="Ærø – Łódź"[:3] + " Müller", due_date=""
    )
    for enc in ("cp850", "latin-1", "utf-8"):
        frame = encode(msg, encoding=enc, sequence=3)
        body = frame[:-5]  # the 4 hex digits and CR
        assert (sum(body) + int(frame[-5:-1], 16)) & 0xFFFF == 0
        assert decode(frame, encoding=enc) == msg
    assert len(encode(msg, encoding="utf-8")) > len(encode(msg, encoding="latin-1"))


def test_encoding_errors_are_typed() -> None:
    with pytest.raises(SIP2EncodeError, match="cannot be sent in ascii"):
        encode(m.Checkin(institution_id="I", item_id="Müller", current_location="x"), encoding="ascii")
    with pytest.raises(SIP2EncodeError, match="delimiter"):
        encode(m.Checkout(institution_id="I", patron_id="p|AD1234", item_id="i"))
    with pytest.raises(SIP2EncodeError, match="exactly 3"):
        encode(m.PatronStatusRequest(language="en", institution_id="I", patron_id="p"))
    with pytest.raises(SIP2EncodeError, match="sequence"):
        encode(m.SCStatus(), sequence=10)


def test_encode_errors_never_show_a_secret() -> None:
    for bad in ("pa|ss99", "pa\rss99"):
        with pytest.raises(SIP2EncodeError) as err:
            encode(m.Login(login_user_id="u", login_password=bad))
        assert "ss99" not in str(err.value) and "login_password" in str(err.value)
    with pytest.raises(SIP2EncodeError) as err:
        encode(m.PatronStatusRequest(institution_id="I", patron_id="p", patron_password="12ü4"), encoding="ascii")
    assert "ü" not in str(err.value) and "patron_password" in str(err.value)


def test_malformed_input_raises_typed_errors_with_raw_bytes() -> None:
    with pytest.raises(UnknownCommandError) as unknown:
        decode(b"XX123\r")
    assert unknown.value.raw == b"XX123\r"
    with pytest.raises(ChecksumError) as bad:
        decode(b"9300CNscclient|COclientpwd|CPkiosk1|AY0AZF135\r")
    assert bad.value.raw.endswith(b"F135\r")
    with pytest.raises(SIP2DecodeError, match="fixed part"):
        decode(b"12")
    with pytest.raises(SIP2DecodeError):
        decode(b"\xfb\xff99")  # telnet negotiation before a 99 (reference §1.1)


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(any_message(), st.sampled_from([None, 0, 5, 9]), st.sampled_from(["cp850", "latin-1", "utf-8", "ascii"]))
def test_decode_of_encode_is_identity(msg: m.Message, sequence: int | None, encoding: str) -> None:
    frame = encode(msg, encoding=encoding, sequence=sequence)
    decoded = decode_frame(frame, encoding=encoding)
    assert decoded.message == msg
    if sequence is not None and msg.code not in ("96", "97"):
        assert decoded.sequence == sequence


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["latin-1", "cp850"]).flatmap(
    lambda enc: st.tuples(st.just(enc), any_message(st.one_of(ASCII_SAFE, LATIN)))
))
def test_round_trip_with_accented_text(case: tuple[str, m.Message]) -> None:
    encoding, msg = case
    assert decode(encode(msg, encoding=encoding, sequence=1), encoding=encoding) == msg


@settings(max_examples=200, deadline=None)
@given(any_message(UNICODE_SAFE))
def test_round_trip_with_any_unicode_in_utf8(msg: m.Message) -> None:
    assert decode(encode(msg, encoding="utf-8", sequence=2), encoding="utf-8") == msg


@settings(max_examples=300, deadline=None)
@given(any_message())
def test_fast_and_generic_paths_agree(msg: m.Message) -> None:
    generic = _encode_text_generic(msg)
    assert codec.encode_text(msg) == generic
    assert _decode_text_generic(type(msg), generic, b"", False) == decode(generic.encode("utf-8"), encoding="utf-8")


@settings(max_examples=200, deadline=None)
@given(messages(m.CheckinResponse, with_extra=False))
def test_strict_decoding_accepts_everything_we_encode(msg: m.CheckinResponse) -> None:
    assert decode(encode(msg), strict=True) == msg


def test_every_sip2_message_type_is_declared() -> None:
    expected = {
        "93", "94", "99", "98", "23", "24", "63", "64", "11", "12", "09", "10", "29", "30", "65", "66",
        "37", "38", "15", "16", "17", "18", "19", "20", "25", "26", "35", "36", "01", "97", "96",
    }
    assert set(m.MESSAGE_TYPES) == expected
    for code, cls in m.MESSAGE_TYPES.items():
        default = cls()
        assert decode(encode(default)) == default, code
        assert dataclasses.is_dataclass(default)
