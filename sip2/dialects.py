"""What each ILS does differently, as data (facts and sources: shared/reference/sip2.md §2-4).

A dialect never changes the codec; it tells the client and the kiosk how to talk and what to
expect: which encoding and terminator to default to, whether a repeated checkout is a renewal,
whether the ILS honours a no-block due date or return date on replay, and how a checkin of an
item that was not on loan is answered. The kiosk reads these instead of branching on names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RepeatedCheckout(StrEnum):
    """What the ILS does when the same patron checks out an item they already have."""

    RENEWS = "renews"  # SIPServer [measured], Sierra, Alma (documented)
    REFUSES = "refuses"
    DEPENDS_ON_POLICY = "depends on policy"


class NotOnLoanCheckin(StrEnum):
    """How a checkin of an item that is not on loan is answered."""

    REFUSED = "ok=0"  # Koha default, SIPServer [measured]
    ACCEPTED = "ok=1"  # Koha with checked_in_ok
    CONFIGURABLE = "configurable"


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    encoding: str
    terminator: bytes
    error_detection: bool
    repeated_checkout: RepeatedCheckout
    honours_nb_due_date: bool | None  # None: unknown / server-specific
    honours_return_date: bool | None
    not_on_loan_checkin: NotOnLoanCheckin
    tls_note: str
    notes: str


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect(
            name="generic",
            encoding="cp850",
            terminator=b"\r",
            error_detection=True,
            repeated_checkout=RepeatedCheckout.RENEWS,
            honours_nb_due_date=None,
            honours_return_date=None,
            not_on_loan_checkin=NotOnLoanCheckin.REFUSED,
            tls_note="native TLS or a local stunnel",
            notes="Assume the worst of every behaviour: a repeated checkout renews, replayed dates may be ignored.",
        ),
        Dialect(
            name="koha",
            encoding="utf-8",
            terminator=b"\r",
            error_detection=False,
            repeated_checkout=RepeatedCheckout.RENEWS,
            honours_nb_due_date=None,
            honours_return_date=True,
            not_on_loan_checkin=NotOnLoanCheckin.CONFIGURABLE,
            tls_note="stunnel in front of the SIP server",
            notes=(
                "Per-account encoding, terminator, error-detect and checked_in_ok in SIPconfig.xml or "
                "sip_accounts; sends CV 01/02/04/99 on checkin; passes the return date to its checkin."
            ),
        ),
        Dialect(
            name="evergreen",
            encoding="utf-8",
            terminator=b"\r",
            error_detection=False,
            repeated_checkout=RepeatedCheckout.RENEWS,
            honours_nb_due_date=None,
            honours_return_date=False,
            not_on_loan_checkin=NotOnLoanCheckin.REFUSED,
            tls_note="stunnel; sip2-mediator-rs supports TLS",
            notes="SIPServer/OpenILS::SIP: return date marked 'most unused'; 98 flags unreliable.",
        ),
        Dialect(
            name="folio",
            encoding="cp850",  # edge-sip2 default charset IBM850 per tenant
            terminator=b"\r",
            error_detection=False,
            repeated_checkout=RepeatedCheckout.DEPENDS_ON_POLICY,
            honours_nb_due_date=None,
            honours_return_date=None,
            not_on_loan_checkin=NotOnLoanCheckin.REFUSED,
            tls_note="edge-sip2 netServerOptions.ssl, or stunnel",
            notes="Login CP must be the service point UUID; tenant chosen by source subnet; 23 may be missing.",
        ),
        Dialect(
            name="alma",
            encoding="utf-8",
            terminator=b"\r",
            error_detection=False,
            repeated_checkout=RepeatedCheckout.RENEWS,
            honours_nb_due_date=True,
            honours_return_date=None,
            not_on_loan_checkin=NotOnLoanCheckin.REFUSED,
            tls_note="TLS required (stunnel to port 6443)",
            notes="Offline replays are applied without block checks, with the SC's due dates; no AP/CH on checkin.",
        ),
        Dialect(
            name="sierra",
            encoding="cp850",
            terminator=b"\r",
            error_detection=True,
            repeated_checkout=RepeatedCheckout.RENEWS,
            honours_nb_due_date=None,
            honours_return_date=None,
            not_on_loan_checkin=NotOnLoanCheckin.REFUSED,
            tls_note="secure SIP2 via stunnel since 4.1",
            notes="Checkout of an item already out to the same patron is a renewal; to another patron per policy.",
        ),
        Dialect(
            name="polaris",
            encoding="cp850",
            terminator=b"\r",
            error_detection=True,
            repeated_checkout=RepeatedCheckout.DEPENDS_ON_POLICY,
            honours_nb_due_date=None,
            honours_return_date=None,
            not_on_loan_checkin=NotOnLoanCheckin.REFUSED,
            tls_note="stunnel",
            notes="Screen and print messages arrive in AF/AG; patron passwords per organisation setting.",
        ),
    )
}


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown SIP2 dialect {name!r}; known: {', '.join(sorted(DIALECTS))}") from None
