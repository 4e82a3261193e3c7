"""Typed classes for every SIP2 2.00 message, both directions, with the 3M extension fields.

Layouts follow the SIP2 2.00 spec as implemented by Koha, SIPServer and pysip2, cross-checked
field by field against frames captured from SIPServer (shared/reference/sip2.md §1.2).
Construct with keywords: ``Checkout(institution_id="UWOLS", patron_id="p1", item_id="i1")``.

Fields a message does not declare (vendor extensions, or a second copy of a non-repeatable
field) are kept in ``extra`` in arrival order and re-encoded unchanged after the declared ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, TypeVar

from sip2.compiled import compile_decoder, compile_encoder
from sip2.fields import PatronStatus, Summary, SupportedMessages
from sip2.layout import (
    BIT,
    DATE,
    FLAG,
    INT1,
    INT2,
    INT3,
    INT4,
    STATUS,
    SUMMARY,
    TEXT1,
    TEXT2,
    TEXT3,
    TEXT4,
    VAR_BX,
    VAR_YN,
    YNU,
    Layout,
    compile_layout,
    fixed,
    repeated,
    var,
)

#: command code -> message class
MESSAGE_TYPES: dict[str, type[Message]] = {}

M = TypeVar("M", bound="Message")


def message(code: str) -> Callable[[type[M]], type[M]]:
    def register(cls: type[M]) -> type[M]:
        cls = dataclasses.dataclass(kw_only=True, slots=True)(cls)
        cls.code = code
        cls._layout = compile_layout(code, cls)
        cls._fast_encode = staticmethod(compile_encoder(cls, cls._layout))
        cls._fast_decode = staticmethod(compile_decoder(cls, cls._layout))
        MESSAGE_TYPES[code] = cls
        return cls

    return register


@dataclasses.dataclass(kw_only=True, slots=True)
class Message:
    """A SIP2 message. ``extra`` holds undeclared fields as (id, value) pairs, in order."""

    code: ClassVar[str]
    _layout: ClassVar[Layout]
    _fast_encode: ClassVar[Callable[[Message], str]]
    _fast_decode: ClassVar[Callable[[str], Message]]
    extra: tuple[tuple[str, str], ...] = ()

    def field(self, field_id: str) -> str | None:
        """The value of a field by its two-letter id, declared or extra (first occurrence)."""
        entry = self._layout.by_id.get(field_id)
        if entry is not None:
            value = getattr(self, entry[0])
            return None if value is None else str(value)
        for fid, value in self.extra:
            if fid == field_id:
                return value
        return None


class Request(Message):
    """Sent by the self-check (SC) to the ILS (ACS)."""

    __slots__ = ()


class Response(Message):
    """Sent by the ILS (ACS) to the self-check (SC)."""

    __slots__ = ()


# --- session -------------------------------------------------------------------------------


@message("93")
class Login(Request):
    uid_algorithm: str = fixed(TEXT1, "0")
    pwd_algorithm: str = fixed(TEXT1, "0")
    login_user_id: str = var("CN", required=True)
    login_password: str = var("CO", required=True)
    location_code: str | None = var("CP")


@message("94")
class LoginResponse(Response):
    ok: bool = fixed(BIT, False)


@message("99")
class SCStatus(Request):
    status_code: int = fixed(INT1, 0)  # 0 ok, 1 printer out of paper, 2 shutting down
    max_print_width: int = fixed(INT3, 40)
    protocol_version: str = fixed(TEXT4, "2.00")


@message("98")
class ACSStatus(Response):
    online_status: bool = fixed(FLAG, True)
    checkin_ok: bool = fixed(FLAG, True)
    checkout_ok: bool = fixed(FLAG, True)
    acs_renewal_policy: bool = fixed(FLAG, True)
    status_update_ok: bool = fixed(FLAG, False)
    offline_ok: bool = fixed(FLAG, False)
    timeout_period: int | None = fixed(INT3, 999)  # tenths of a second; 999 = unknown
    retries_allowed: int | None = fixed(INT3, 999)
    date_time_sync: datetime | None = fixed(DATE)
    protocol_version: str = fixed(TEXT4, "2.00")
    institution_id: str = var("AO", required=True)
    library_name: str | None = var("AM")
    supported_messages: SupportedMessages = var(
        "BX", required=True, kind=VAR_BX, default=SupportedMessages(frozenset())
    )
    terminal_location: str | None = var("AN")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("97")
class RequestACSResend(Request):
    """Ask the ILS to send its last response again (ours arrived corrupted). Always safe."""


@message("96")
class RequestSCResend(Response):
    """The ILS asks us to send our last request again (it arrived corrupted)."""


# --- patron --------------------------------------------------------------------------------


@message("23")
class PatronStatusRequest(Request):
    language: str = fixed(TEXT3, "000")
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    terminal_password: str = var("AC", required=True)
    patron_password: str = var("AD", required=True)


@message("24")
class PatronStatusResponse(Response):
    patron_status: PatronStatus = fixed(STATUS, PatronStatus())
    language: str = fixed(TEXT3, "000")
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    personal_name: str = var("AE", required=True)
    valid_patron: bool | None = var("BL", kind=VAR_YN)
    valid_patron_password: bool | None = var("CQ", kind=VAR_YN)
    currency_type: str | None = var("BH")
    fee_amount: str | None = var("BV")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("63")
class PatronInformation(Request):
    language: str = fixed(TEXT3, "000")
    transaction_date: datetime | None = fixed(DATE)
    summary: Summary | None = fixed(SUMMARY)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    terminal_password: str | None = var("AC", default="")
    patron_password: str | None = var("AD", default="")
    start_item: str | None = var("BP")
    end_item: str | None = var("BQ")


@message("64")
class PatronInformationResponse(Response):
    patron_status: PatronStatus = fixed(STATUS, PatronStatus())
    language: str = fixed(TEXT3, "000")
    transaction_date: datetime | None = fixed(DATE)
    hold_items_count: int | None = fixed(INT4, 0)
    overdue_items_count: int | None = fixed(INT4, 0)
    charged_items_count: int | None = fixed(INT4, 0)
    fine_items_count: int | None = fixed(INT4, 0)
    recall_items_count: int | None = fixed(INT4, 0)
    unavailable_holds_count: int | None = fixed(INT4, 0)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    personal_name: str = var("AE", required=True)
    hold_items_limit: str | None = var("BZ")
    overdue_items_limit: str | None = var("CA")
    charged_items_limit: str | None = var("CB")
    valid_patron: bool | None = var("BL", kind=VAR_YN)
    valid_patron_password: bool | None = var("CQ", kind=VAR_YN)
    currency_type: str | None = var("BH")
    fee_amount: str | None = var("BV")
    fee_limit: str | None = var("CC")
    hold_items: tuple[str, ...] = repeated("AS")
    overdue_items: tuple[str, ...] = repeated("AT")
    charged_items: tuple[str, ...] = repeated("AU")
    fine_items: tuple[str, ...] = repeated("AV")
    recall_items: tuple[str, ...] = repeated("BU")
    unavailable_hold_items: tuple[str, ...] = repeated("CD")
    home_address: str | None = var("BD")
    email_address: str | None = var("BE")
    home_phone_number: str | None = var("BF")
    expiration_date: str | None = var("PA")  # Koha/Evergreen extension
    birth_date: str | None = var("PB")
    patron_class: str | None = var("PC")
    internet_privileges: str | None = var("PI")
    internal_patron_id: str | None = var("XI")  # Evergreen
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("25")
class PatronEnable(Request):
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    terminal_password: str | None = var("AC", default="")
    patron_password: str | None = var("AD", default="")


@message("26")
class PatronEnableResponse(Response):
    patron_status: PatronStatus = fixed(STATUS, PatronStatus())
    language: str = fixed(TEXT3, "000")
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    personal_name: str = var("AE", required=True)
    valid_patron: bool | None = var("BL", kind=VAR_YN)
    valid_patron_password: bool | None = var("CQ", kind=VAR_YN)
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("35")
class EndPatronSession(Request):
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    terminal_password: str | None = var("AC", default="")
    patron_password: str | None = var("AD", default="")


@message("36")
class EndSessionResponse(Response):
    end_session: bool = fixed(FLAG, True)
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("01")
class BlockPatron(Request):
    """Answered with a 24 Patron Status Response."""

    card_retained: bool = fixed(FLAG, False)
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    blocked_card_msg: str = var("AL", required=True)
    patron_id: str = var("AA", required=True)
    terminal_password: str = var("AC", required=True)


# --- circulation ---------------------------------------------------------------------------


@message("11")
class Checkout(Request):
    sc_renewal_policy: bool = fixed(FLAG, False)
    no_block: bool = fixed(FLAG, False)
    transaction_date: datetime | None = fixed(DATE)
    nb_due_date: datetime | None = fixed(DATE)  # blank unless no_block (reference §4 #4)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    item_id: str = var("AB", required=True)
    terminal_password: str = var("AC", required=True)
    item_properties: str | None = var("CH")
    patron_password: str | None = var("AD", default="")
    fee_acknowledged: bool | None = var("BO", kind=VAR_YN)
    cancel: bool | None = var("BI", kind=VAR_YN)


@dataclasses.dataclass(kw_only=True, slots=True)
class _LoanAnswer(Response):
    """The layout 12 and 30 share: a loan made or extended (not itself a message)."""

    ok: bool = fixed(BIT, False)
    renewal_ok: bool = fixed(FLAG, False)
    magnetic_media: bool | None = fixed(YNU, None)
    desensitize: bool | None = fixed(YNU, None)
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    item_id: str = var("AB", required=True)
    title: str = var("AJ", required=True)
    due_date: str = var("AH", required=True)  # a SIP2 date or free text: servers vary
    fee_type: str | None = var("BT")
    security_inhibit: bool | None = var("CI", kind=VAR_YN)
    currency_type: str | None = var("BH")
    fee_amount: str | None = var("BV")
    media_type: str | None = var("CK")
    item_properties: str | None = var("CH")
    transaction_id: str | None = var("BK")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("12")
class CheckoutResponse(_LoanAnswer):
    """Answer to 11 Checkout. ``renewal_ok`` Y: the ILS treated it as a renewal."""


@message("09")
class Checkin(Request):
    no_block: bool = fixed(FLAG, False)
    transaction_date: datetime | None = fixed(DATE)
    return_date: datetime | None = fixed(DATE)
    current_location: str = var("AP", required=True)
    institution_id: str = var("AO", required=True)
    item_id: str = var("AB", required=True)
    terminal_password: str = var("AC", required=True)
    item_properties: str | None = var("CH")
    cancel: bool | None = var("BI", kind=VAR_YN)


@message("10")
class CheckinResponse(Response):
    ok: bool = fixed(BIT, False)
    resensitize: bool = fixed(FLAG, False)
    magnetic_media: bool | None = fixed(YNU, None)
    alert: bool = fixed(FLAG, False)
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    item_id: str = var("AB", required=True)
    permanent_location: str = var("AQ", required=True)
    title: str | None = var("AJ")
    sort_bin: str | None = var("CL")
    patron_id: str | None = var("AA")
    media_type: str | None = var("CK")
    item_properties: str | None = var("CH")
    alert_type: str | None = var("CV")  # 3M extension; see sip2.fields.AlertType
    destination_location: str | None = var("CT")
    call_number: str | None = var("CS")
    collection_code: str | None = var("CR")
    hold_patron_id: str | None = var("CY")
    hold_patron_name: str | None = var("DA")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("29")
class Renew(Request):
    third_party_allowed: bool = fixed(FLAG, False)
    no_block: bool = fixed(FLAG, False)
    transaction_date: datetime | None = fixed(DATE)
    nb_due_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    patron_password: str | None = var("AD", default="")
    item_id: str | None = var("AB")
    title: str | None = var("AJ")
    terminal_password: str | None = var("AC", default="")
    item_properties: str | None = var("CH")
    fee_acknowledged: bool | None = var("BO", kind=VAR_YN)


@message("30")
class RenewResponse(_LoanAnswer):
    """Answer to 29 Renew."""


@message("65")
class RenewAll(Request):
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    patron_password: str | None = var("AD", default="")
    terminal_password: str | None = var("AC", default="")
    fee_acknowledged: bool | None = var("BO", kind=VAR_YN)


@message("66")
class RenewAllResponse(Response):
    ok: bool = fixed(BIT, False)
    renewed_count: int | None = fixed(INT4, 0)
    unrenewed_count: int | None = fixed(INT4, 0)
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    renewed_items: tuple[str, ...] = repeated("BM")
    unrenewed_items: tuple[str, ...] = repeated("BN")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("37")
class FeePaid(Request):
    transaction_date: datetime | None = fixed(DATE)
    fee_type: str = fixed(TEXT2, "01")
    payment_type: str = fixed(TEXT2, "00")  # 00 cash, 01 VISA, 02 credit card
    currency_type: str = fixed(TEXT3, "USD")
    fee_amount: str = var("BV", required=True)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    terminal_password: str | None = var("AC")
    patron_password: str | None = var("AD")
    fee_identifier: str | None = var("CG")
    transaction_id: str | None = var("BK")


@message("38")
class FeePaidResponse(Response):
    payment_accepted: bool = fixed(FLAG, False)
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    transaction_id: str | None = var("BK")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("15")
class Hold(Request):
    hold_mode: str = fixed(TEXT1, "+")  # + add, - delete, * change
    transaction_date: datetime | None = fixed(DATE)
    expiration_date: str | None = var("BW")
    pickup_location: str | None = var("BS")
    hold_type: str | None = var("BY")
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    patron_password: str | None = var("AD")
    item_id: str | None = var("AB")
    title: str | None = var("AJ")
    terminal_password: str | None = var("AC")
    fee_acknowledged: bool | None = var("BO", kind=VAR_YN)


@message("16")
class HoldResponse(Response):
    ok: bool = fixed(BIT, False)
    available: bool = fixed(FLAG, False)
    transaction_date: datetime | None = fixed(DATE)
    expiration_date: str | None = var("BW")
    queue_position: str | None = var("BR")
    pickup_location: str | None = var("BS")
    institution_id: str = var("AO", required=True)
    patron_id: str = var("AA", required=True)
    item_id: str | None = var("AB")
    title: str | None = var("AJ")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


# --- items ---------------------------------------------------------------------------------


@message("17")
class ItemInformation(Request):
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    item_id: str = var("AB", required=True)
    terminal_password: str | None = var("AC")


@message("18")
class ItemInformationResponse(Response):
    circulation_status: int | None = fixed(INT2, 1)  # see sip2.fields.CirculationStatus
    security_marker: str = fixed(TEXT2, "00")
    fee_type: str = fixed(TEXT2, "01")
    transaction_date: datetime | None = fixed(DATE)
    hold_queue_length: str | None = var("CF")
    due_date: str | None = var("AH")
    recall_date: str | None = var("CJ")
    hold_pickup_date: str | None = var("CM")
    item_id: str = var("AB", required=True)
    title: str = var("AJ", required=True)
    owner: str | None = var("BG")
    currency_type: str | None = var("BH")
    fee_amount: str | None = var("BV")
    media_type: str | None = var("CK")
    permanent_location: str | None = var("AQ")
    current_location: str | None = var("AP")
    item_properties: str | None = var("CH")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


@message("19")
class ItemStatusUpdate(Request):
    transaction_date: datetime | None = fixed(DATE)
    institution_id: str = var("AO", required=True)
    item_id: str = var("AB", required=True)
    terminal_password: str | None = var("AC")
    item_properties: str = var("CH", required=True)


@message("20")
class ItemStatusUpdateResponse(Response):
    item_properties_ok: bool = fixed(BIT, False)
    transaction_date: datetime | None = fixed(DATE)
    item_id: str = var("AB", required=True)
    title: str | None = var("AJ")
    item_properties: str | None = var("CH")
    screen_messages: tuple[str, ...] = repeated("AF")
    print_lines: tuple[str, ...] = repeated("AG")


#: request code -> the response class the ILS answers it with
RESPONSE_FOR: dict[str, type[Response]] = {
    "93": LoginResponse,
    "99": ACSStatus,
    "23": PatronStatusResponse,
    "63": PatronInformationResponse,
    "25": PatronEnableResponse,
    "35": EndSessionResponse,
    "01": PatronStatusResponse,
    "11": CheckoutResponse,
    "09": CheckinResponse,
    "29": RenewResponse,
    "65": RenewAllResponse,
    "37": FeePaidResponse,
    "15": HoldResponse,
    "17": ItemInformationResponse,
    "19": ItemStatusUpdateResponse,
}

#: Requests that change nothing at the ILS, or change it idempotently: safe to send again
#: after a lost response. Everything else raises OutcomeUnknown instead (see client.py).
#: Checkin (09) is NOT here: a resent checkin answers ok=0 "not on loan" and loses the first
#: answer's sort bin and hold alert, so the caller must ask 17 Item Information instead.
SAFE_TO_REPEAT = frozenset({"93", "99", "97", "23", "63", "25", "35", "17"})
