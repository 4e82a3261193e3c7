"""The journal's schema, as numbered migrations applied in order.

``schema_version`` (one row) holds how many migrations a file has had. Opening a journal applies
the missing ones in the opener's write transaction, so a kiosk upgraded while ``kiosk sync`` runs
migrates once and atomically. A migration is appended, never edited: a file written by an older
kiosk must reach the same schema as a new one. A file from a newer kiosk is refused (old code
could lose what it added).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


class SchemaTooNew(Exception):
    """The file was written by a newer kiosk."""


def _v1_transactions(db: sqlite_utils.Database) -> None:
    db["transactions"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "seq": int,
            "kind": str,
            "mode": str,
            "state": str,
            "patron_id": str,
            "item_id": str,
            "transaction_date": str,
            "nb_due_date": str,
            "return_date": str,
            "session_ref": str,
            "owner": str,
            "attempts": int,
            "ils_ok": int,
            "reason": str,
            "ils_due_date": str,
            "title": str,
            "note": str,
            "created_at": str,
            "updated_at": str,
            "settled_at": str,
            "purged_at": str,
        },
        pk="id",
        not_null={"seq", "kind", "mode", "state", "item_id", "transaction_date", "attempts", "created_at",
                  "updated_at"},
        defaults={"attempts": 0},
    )
    db["transactions"].create_index(["seq"], index_name="transactions_seq", unique=True)  # type: ignore[union-attr]


def _v2_resolution(db: sqlite_utils.Database) -> None:
    """v1 could not tell whether a renewal lost in flight had happened (the item is charged either
    way): v2 keeps the ILS's due date from before the request, and how each in-flight outcome was
    found out. Plus the indexes the replay queue and the purge read by."""
    table = db["transactions"]
    table.add_column("due_before", str)  # type: ignore[union-attr]
    table.add_column("resolved_by", str)  # type: ignore[union-attr]
    table.create_index(["mode", "state", "seq"], index_name="transactions_queue")  # type: ignore[union-attr]
    table.create_index(["state", "settled_at"], index_name="transactions_settled")  # type: ignore[union-attr]


#: Applied in order; the schema version is how many have been applied. Append, never edit.
MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_v1_transactions, _v2_resolution)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite_utils.Database) -> int:
    if "schema_version" not in db.table_names():
        return 0
    row = next(iter(db.query("select version from schema_version")), None)
    return int(row["version"]) if row else 0


def migrate(db: sqlite_utils.Database, target: int = SCHEMA_VERSION) -> int:
    """Bring ``db`` to schema ``target`` inside the caller's transaction; return the version found.

    Refuses a file written by a newer kiosk: running old code on it could lose what it added.
    """
    found = schema_version(db)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"journal schema v{found} is newer than this kiosk understands (v{SCHEMA_VERSION}): upgrade the kiosk"
        )
    if "schema_version" not in db.table_names():
        db["schema_version"].create({"version": int}, not_null={"version"})  # type: ignore[union-attr]
        db["schema_version"].insert({"version": 0})  # type: ignore[union-attr]
    for version in range(found + 1, target + 1):
        MIGRATIONS[version - 1](db)
        db.execute("update schema_version set version = ?", [version])
    return found
