"""How the simulated library is stored: the SQLite schema (through sqlite-utils), seeding it from
the sample JSON, and turning rows back into records. No rules here; ``library.py`` has them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import sqlite_utils

from hardware_mocks.ils.records import (
    Fine,
    Hold,
    HoldStatus,
    Item,
    ItemStatus,
    Loan,
    Patron,
    Rules,
    end_of_day,
    to_cents,
)

SAMPLE_DATA = "sample_library.json"


def load_sample_data() -> dict[str, Any]:
    """The packaged sample library (see README.md for the scenario table)."""
    text = resources.files("hardware_mocks.ils").joinpath(SAMPLE_DATA).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


_ISO = "%Y-%m-%dT%H:%M:%S"


def ts(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=None, microsecond=0).strftime(_ISO)


def dt(text: str | None) -> datetime | None:
    return None if not text else datetime.strptime(text, _ISO)


SCHEMA: dict[str, tuple[dict[str, type], str | None]] = {
    "settings": ({"key": str, "value": str}, "key"),
    "branches": ({"code": str, "name": str}, "code"),
    "patrons": (
        {
            "id": str,
            "pin": str,
            "name": str,
            "email": str,
            "phone": str,
            "address": str,
            "home_branch": str,
            "patron_class": str,
            "language": str,
            "expires": str,
            "blocked": str,
            "card_lost": int,
            "restrictions": str,
            "sc_block": str,
            "note": str,
        },
        "id",
    ),
    "items": (
        {
            "id": str,
            "title": str,
            "author": str,
            "media_type": str,
            "call_number": str,
            "collection": str,
            "home_branch": str,
            "current_branch": str,
            "status": str,
            "loanable": int,
            "parts": int,
            "rental_fee": int,
            "properties": str,
            "transit_to": str,
            "note": str,
        },
        "id",
    ),
    "loans": (
        {"item_id": str, "patron_id": str, "checked_out": str, "due": str, "renewals": int, "no_block": int},
        "item_id",
    ),
    "holds": (
        {
            "id": int,
            "item_id": str,
            "patron_id": str,
            "pickup_branch": str,
            "placed": str,
            "expires": str,
            "status": str,
            "shelf_until": str,
        },
        "id",
    ),
    "fines": (
        {
            "id": int,
            "patron_id": str,
            "item_id": str,
            "fee_type": str,
            "amount": int,
            "paid": int,
            "description": str,
            "created": str,
        },
        "id",
    ),
    "ledger": (
        {
            "seq": int,
            "time": str,
            "message": str,
            "patron": str,
            "item": str,
            "outcome": str,
            "applied": int,
            "no_block": int,
            "connection": str,
            "detail": str,
        },
        "seq",
    ),
}


def create_schema(db: sqlite_utils.Database) -> None:
    for name, (columns, pk) in SCHEMA.items():
        db[name].create(columns, pk=pk, not_null={pk} if pk else None, if_not_exists=True)
    db["loans"].create_index(["patron_id"], if_not_exists=True)
    db["holds"].create_index(["item_id"], if_not_exists=True)
    db["holds"].create_index(["patron_id"], if_not_exists=True)
    db["fines"].create_index(["patron_id"], if_not_exists=True)


def seed(db: sqlite_utils.Database, data: dict[str, Any], now: datetime) -> None:
    """Load sample data whose dates are relative to ``now`` (so overdue stays overdue)."""
    rules = Rules.from_data(data["rules"])
    settings = {
        k: data[k]
        for k in (
            "institution_id",
            "library_name",
            "currency",
            "default_branch",
            "rules",
            "sort_bins",
            "media_types",
        )
    }
    db["settings"].insert({"key": "library", "value": json.dumps(settings, ensure_ascii=False)}, replace=True)
    db["branches"].insert_all(data["branches"], replace=True)
    db["patrons"].insert_all(
        (
            {
                "id": p["id"],
                "pin": p["pin"],
                "name": p["name"],
                "email": p.get("email", ""),
                "phone": p.get("phone", ""),
                "address": p.get("address", ""),
                "home_branch": p["home_branch"],
                "patron_class": p.get("patron_class", "adult"),
                "language": p.get("language", "001"),
                "expires": ts(
                    end_of_day(now + timedelta(days=p.get("expires_in_days", rules.card_valid_days)))
                ),
                "blocked": p.get("blocked"),
                "card_lost": int(bool(p.get("card_lost"))),
                "restrictions": ",".join(p.get("restrictions", [])),
                "sc_block": None,
                "note": p.get("note", ""),
            }
            for p in data["patrons"]
        ),
        replace=True,
    )
    db["items"].insert_all(
        (
            {
                "id": i["id"],
                "title": i["title"],
                "author": i.get("author", ""),
                "media_type": i["media_type"],
                "call_number": i.get("call_number", ""),
                "collection": i.get("collection", ""),
                "home_branch": i["home_branch"],
                "current_branch": i.get("current_branch", i["home_branch"]),
                "status": ItemStatus(i.get("status", "available")).value,
                "loanable": int(i.get("loanable", True)),
                "parts": int(i.get("parts", 1)),
                "rental_fee": to_cents(i.get("rental_fee", "0")),
                "properties": i.get("properties", ""),
                "transit_to": i.get("transit_to"),
                "note": i.get("note", ""),
            }
            for i in data["items"]
        ),
        replace=True,
    )
    db["loans"].insert_all(
        (
            {
                "item_id": loan["item"],
                "patron_id": loan["patron"],
                "checked_out": ts(now - timedelta(days=loan["checked_out_days_ago"])),
                "due": ts(end_of_day(now + timedelta(days=loan["due_in_days"]))),
                "renewals": int(loan.get("renewals", 0)),
                "no_block": 0,
            }
            for loan in data["loans"]
        ),
        replace=True,
    )
    for hold in data["holds"]:
        placed = now - timedelta(days=hold["placed_days_ago"])
        shelf = hold.get("shelf_days_left")
        db["holds"].insert(
            {
                "item_id": hold["item"],
                "patron_id": hold["patron"],
                "pickup_branch": hold["pickup"],
                "placed": ts(placed),
                "expires": ts(end_of_day(placed + timedelta(days=rules.hold_expiry_days))),
                "status": HoldStatus(hold.get("status", "pending")).value,
                "shelf_until": ts(end_of_day(now + timedelta(days=shelf))) if shelf is not None else None,
            }
        )
    for fine in data["fines"]:
        db["fines"].insert(
            {
                "patron_id": fine["patron"],
                "item_id": fine.get("item"),
                "fee_type": fine.get("fee_type", "01"),
                "amount": to_cents(fine["amount"]),
                "paid": 0,
                "description": fine["description"],
                "created": ts(now - timedelta(days=fine.get("days_ago", 0))),
            }
        )


# --- row conversion --------------------------------------------------------------------------

HOLD_ORDER = "order by case status when 'ready' then 0 when 'in_transit' then 1 else 2 end, placed, id"


def where_clause(**columns: Any) -> tuple[str, list[Any]]:
    parts = [f"{name} = ?" for name, value in columns.items() if value is not None]
    params = [value for value in columns.values() if value is not None]
    return ("where " + " and ".join(parts) if parts else ""), params


def patron_from_row(r: dict[str, Any]) -> Patron:
    return Patron(
        id=r["id"],
        pin=r["pin"],
        name=r["name"],
        email=r["email"] or "",
        phone=r["phone"] or "",
        address=r["address"] or "",
        home_branch=r["home_branch"],
        patron_class=r["patron_class"] or "adult",
        language=r["language"] or "000",
        expires=dt(r["expires"]) or datetime.max,
        blocked=r["blocked"] or None,
        card_lost=bool(r["card_lost"]),
        restrictions=frozenset(filter(None, (r["restrictions"] or "").split(","))),
        sc_block=r["sc_block"] or None,
    )


def item_from_row(r: dict[str, Any]) -> Item:
    return Item(
        id=r["id"],
        title=r["title"],
        author=r["author"] or "",
        media_type=r["media_type"],
        call_number=r["call_number"] or "",
        collection=r["collection"] or "",
        home_branch=r["home_branch"],
        current_branch=r["current_branch"],
        status=ItemStatus(r["status"]),
        loanable=bool(r["loanable"]),
        parts=int(r["parts"] or 1),
        rental_fee=int(r["rental_fee"] or 0),
        properties=r["properties"] or "",
        transit_to=r["transit_to"] or None,
    )


def loan_from_row(r: dict[str, Any]) -> Loan:
    return Loan(
        item_id=r["item_id"],
        patron_id=r["patron_id"],
        checked_out=dt(r["checked_out"]) or datetime.min,
        due=dt(r["due"]) or datetime.max,
        renewals=int(r["renewals"]),
    )


def hold_from_row(r: dict[str, Any]) -> Hold:
    return Hold(
        id=int(r["id"]),
        item_id=r["item_id"],
        patron_id=r["patron_id"],
        pickup_branch=r["pickup_branch"],
        placed=dt(r["placed"]) or datetime.min,
        expires=dt(r["expires"]) or datetime.max,
        status=HoldStatus(r["status"]),
        shelf_until=dt(r["shelf_until"]),
    )


def fine_from_row(r: dict[str, Any]) -> Fine:
    return Fine(
        id=int(r["id"]),
        patron_id=r["patron_id"],
        item_id=r["item_id"] or None,
        fee_type=r["fee_type"],
        amount=int(r["amount"]),
        paid=int(r["paid"]),
        description=r["description"],
        created=dt(r["created"]) or datetime.min,
    )
