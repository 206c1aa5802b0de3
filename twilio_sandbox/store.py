"""The sandbox's state in a SQLite file: shared by every process, kept across restarts.

One module for every table, past 400 lines: the schema, the connection settings (WAL, a
busy timeout) and the one-writer transactions are shared by all of them, and each
resource module reads and writes through these methods only.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS numbers (
    sid TEXT PRIMARY KEY,
    phone_number TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS taken (phone_number TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS voice_only (phone_number TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS empty_area_codes (area_code TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS unsubscribed (phone_number TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS messages (sid TEXT PRIMARY KEY, data TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messaging_services (sid TEXT PRIMARY KEY, data TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (sid TEXT PRIMARY KEY, data TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS a2p_objects (sid TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS a2p_review (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (sid TEXT PRIMARY KEY, account_sid TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls_in_progress (sid TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    spec TEXT NOT NULL,
    remaining INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    data TEXT NOT NULL
);
-- A fleet of 10,000 subaccounts lists each one's resources: by account (and parent), never a scan.
CREATE INDEX IF NOT EXISTS numbers_by_account ON numbers (json_extract(data, '$.account_sid'), seq);
CREATE INDEX IF NOT EXISTS services_by_account ON messaging_services (json_extract(data, '$.account_sid'), seq);
CREATE INDEX IF NOT EXISTS a2p_by_account ON a2p_objects (kind, json_extract(data, '$.account_sid'), seq);
CREATE INDEX IF NOT EXISTS a2p_by_parent ON a2p_objects (kind, json_extract(data, '$._sandbox.parent'), seq);
"""
_seq_lock = threading.Lock()
_seq = [0]


def now_rfc2822() -> str:
    """API v2010's date format: 'Tue, 24 Nov 2026 20:00:00 +0000'."""
    return formatdate(time.time(), usegmt=False).replace("-0000", "+0000")


def now_iso8601() -> str:
    """The v1 APIs' date format (Messaging, Trust Hub): '2026-11-24T20:00:00Z'."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _next_seq() -> int:
    # Monotonic order of creation, stable across processes sharing the file.
    with _seq_lock:
        _seq[0] = max(_seq[0] + 1, time.time_ns())
        return _seq[0]


class Store:
    """Thin access layer; every method opens its own short transaction."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: one writer at a time, across processes)."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    # ---------------------------------------------------------------- control

    def reset(self) -> None:
        with self.tx() as db:
            for table in (
                "numbers",
                "taken",
                "voice_only",
                "empty_area_codes",
                "unsubscribed",
                "messages",
                "messaging_services",
                "accounts",
                "a2p_objects",
                "a2p_review",
                "calls",
                "calls_in_progress",
                "faults",
                "requests",
                "callbacks",
            ):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def set_flag(self, table: str, key: str, on: bool) -> None:
        with self.tx() as db:
            if on:
                db.execute(f"INSERT OR IGNORE INTO {table} VALUES (?)", (key,))  # noqa: S608
            else:
                db.execute(f"DELETE FROM {table} WHERE {_key(table)} = ?", (key,))  # noqa: S608

    def flags(self, table: str) -> set[str]:
        with self.read() as db:
            return {row[0] for row in db.execute(f"SELECT * FROM {table}")}  # noqa: S608

    def add_fault(self, method: str, path: str, spec: dict[str, Any], times: int) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO faults (method, path, spec, remaining) VALUES (?, ?, ?, ?)",
                (method.upper(), path, json.dumps(spec), max(1, times)),
            )

    def clear_faults(self) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM faults")

    def take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        """The first queued fault matching this request, counted down (None if none)."""
        with self.read() as db:
            if db.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is None:
                return None  # the usual case: no write transaction for every request
        with self.tx() as db:
            for fault_id, fault_method, pattern, spec, remaining in db.execute(
                "SELECT id, method, path, spec, remaining FROM faults ORDER BY id"
            ).fetchall():
                if fault_method not in (method, "*") or not (pattern in path or re.search(pattern, path)):
                    continue
                probability = json.loads(spec).get("probability")
                if probability is not None and random.random() >= float(probability):
                    continue
                if remaining <= 1:
                    db.execute("DELETE FROM faults WHERE id = ?", (fault_id,))
                else:
                    db.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (fault_id,))
                return json.loads(spec)
        return None

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO requests (data) VALUES (?)", (json.dumps(entry),))

    def requests(self) -> list[dict[str, Any]]:
        with self.read() as db:
            return [json.loads(row[0]) for row in db.execute("SELECT data FROM requests ORDER BY id")]

    def clear_requests(self) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM requests")

    def log_callback(self, entry: dict[str, Any]) -> None:
        """Remember a callback the sandbox sent (or could not send) to the app."""
        with self.tx() as db:
            db.execute("INSERT INTO callbacks (data) VALUES (?)", (json.dumps(entry),))

    def callbacks(self) -> list[dict[str, Any]]:
        with self.read() as db:
            return [json.loads(row[0]) for row in db.execute("SELECT data FROM callbacks ORDER BY id")]

    # ---------------------------------------------------------------- numbers

    def owned(self) -> list[dict[str, Any]]:
        with self.read() as db:
            return [json.loads(row[0]) for row in db.execute("SELECT data FROM numbers ORDER BY seq")]

    def owned_page(
        self,
        *,
        after_seq: int,
        limit: int,
        phone_number: str | None,
        friendly_name: str | None,
        account_sid: str | None = None,
    ) -> list[tuple[int, dict]]:
        sql = "SELECT seq, data FROM numbers WHERE seq > ?"
        args: list[int | str] = [after_seq]
        if phone_number:
            sql, args = sql + " AND phone_number = ?", [*args, phone_number]
        if account_sid is not None:
            sql, args = sql + " AND json_extract(data, '$.account_sid') = ?", [*args, account_sid]
        sql += " ORDER BY seq"
        with self.read() as db:
            rows = [(seq, json.loads(data)) for seq, data in db.execute(sql, args)]
        if friendly_name is not None:
            rows = [r for r in rows if r[1]["friendly_name"] == friendly_name]
        if account_sid is not None:
            rows = [r for r in rows if r[1]["account_sid"] == account_sid]
        return rows[: limit + 1]

    def numbers_by_sid(self, sids: list[str]) -> dict[str, dict[str, Any]]:
        """The owned numbers among `sids`, by SID."""
        with self.read() as db:
            rows = db.execute(f"SELECT sid, data FROM numbers WHERE sid IN ({','.join('?' * len(sids))})", sids)  # noqa: S608
            return {sid: json.loads(data) for sid, data in rows}

    def owned_count(self, *, phone_number: str | None, friendly_name: str | None) -> int:
        return len(self.owned_page(after_seq=-1, limit=10**9, phone_number=phone_number, friendly_name=friendly_name))

    def owned_numbers_set(self) -> set[str]:
        with self.read() as db:
            return {row[0] for row in db.execute("SELECT phone_number FROM numbers")}

    def get_number(self, sid: str) -> dict[str, Any] | None:
        with self.read() as db:
            row = db.execute("SELECT data FROM numbers WHERE sid = ?", (sid,)).fetchone()
        return json.loads(row[0]) if row else None

    def insert_number(self, number: dict[str, Any]) -> bool:
        """Add an owned number; False if the number is owned already or taken by another account."""
        with self.tx() as db:
            if db.execute("SELECT 1 FROM taken WHERE phone_number = ?", (number["phone_number"],)).fetchone():
                return False
            try:
                db.execute(
                    "INSERT INTO numbers (sid, phone_number, data, seq) VALUES (?, ?, ?, ?)",
                    (number["sid"], number["phone_number"], json.dumps(number), _next_seq()),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def insert_many(self, numbers: list[dict[str, Any]]) -> None:
        with self.tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO numbers (sid, phone_number, data, seq) VALUES (?, ?, ?, ?)",
                [(n["sid"], n["phone_number"], json.dumps(n), _next_seq()) for n in numbers],
            )

    def update_number(self, sid: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self.tx() as db:
            row = db.execute("SELECT data FROM numbers WHERE sid = ?", (sid,)).fetchone()
            if row is None:
                return None
            number = {**json.loads(row[0]), **changes, "date_updated": now_rfc2822()}
            db.execute("UPDATE numbers SET data = ? WHERE sid = ?", (json.dumps(number), sid))
        return number

    def delete_number(self, sid: str) -> bool:
        with self.tx() as db:
            return db.execute("DELETE FROM numbers WHERE sid = ?", (sid,)).rowcount > 0

    # ---------------------------------------------------------------- subaccounts

    def insert_account(self, account: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO accounts (sid, data, seq) VALUES (?, ?, ?)", (account["sid"], json.dumps(account), _next_seq())
            )

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Store many accounts, messaging_services or a2p_objects in one transaction (seeding a fleet)."""
        with self.tx() as db:
            if table == "a2p_objects":
                db.executemany(
                    "INSERT INTO a2p_objects (sid, kind, data, seq) VALUES (?, ?, ?, ?)",
                    [(r["sid"], r["_sandbox"]["kind"], json.dumps(r), _next_seq()) for r in rows],
                )
                return
            if table not in ("accounts", "messaging_services"):
                raise ValueError(f"no bulk insert into {table}")
            db.executemany(
                f"INSERT INTO {table} (sid, data, seq) VALUES (?, ?, ?)",  # noqa: S608 - fixed table names
                [(r["sid"], json.dumps(r), _next_seq()) for r in rows],
            )

    def accounts_page(
        self, *, after_seq: int, limit: int, friendly_name: str | None, status: str | None
    ) -> list[tuple[int, dict]]:
        """Up to `limit` + 1 subaccounts created after `after_seq`, oldest first, with these
        exact FriendlyName and Status if given (the extra one says there is a next page)."""
        sql = "SELECT seq, data FROM accounts WHERE seq > ?"
        args: list[int | str] = [after_seq]
        if friendly_name is not None:
            sql, args = sql + " AND json_extract(data, '$.friendly_name') = ?", [*args, friendly_name]
        if status is not None:
            sql, args = sql + " AND json_extract(data, '$.status') = ?", [*args, status]
        with self.read() as db:
            return [(seq, json.loads(data)) for seq, data in db.execute(sql + " ORDER BY seq LIMIT ?", [*args, limit + 1])]

    def accounts(self) -> list[dict[str, Any]]:
        """Every subaccount, oldest first."""
        with self.read() as db:
            return [json.loads(row[0]) for row in db.execute("SELECT data FROM accounts ORDER BY seq")]

    def get_account(self, sid: str) -> dict[str, Any] | None:
        with self.read() as db:
            row = db.execute("SELECT data FROM accounts WHERE sid = ?", (sid,)).fetchone()
        return json.loads(row[0]) if row else None

    def update_account(self, sid: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self.tx() as db:
            row = db.execute("SELECT data FROM accounts WHERE sid = ?", (sid,)).fetchone()
            if row is None:
                return None
            account = {**json.loads(row[0]), **changes, "date_updated": now_rfc2822()}
            db.execute("UPDATE accounts SET data = ? WHERE sid = ?", (json.dumps(account), sid))
        return account

    # ---------------------------------------------------------------- messaging services

    def insert_calls(self, account_sid: str, count: int, *, in_progress: bool = False) -> list[str]:
        """Record `count` calls in `account_sid` this month (the usage records count them); their SIDs."""
        sids = [new_sid("CA") for _ in range(count)]
        with self.tx() as db:
            db.executemany(
                "INSERT INTO calls (sid, account_sid, created) VALUES (?, ?, ?)",
                [(sid, account_sid, now_rfc2822()) for sid in sids],
            )
            if in_progress:
                db.executemany("INSERT INTO calls_in_progress (sid) VALUES (?)", [(sid,) for sid in sids])
        return sids

    def get_call(self, sid: str) -> dict[str, Any] | None:
        with self.read() as db:
            row = db.execute("SELECT account_sid FROM calls WHERE sid = ?", (sid,)).fetchone()
            busy = db.execute("SELECT 1 FROM calls_in_progress WHERE sid = ?", (sid,)).fetchone()
        return {"sid": sid, "account_sid": row[0], "in_progress": busy is not None} if row else None

    def delete_call(self, sid: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM calls WHERE sid = ?", (sid,))

    def calls_count(self, account_sid: str) -> int:
        with self.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM calls WHERE account_sid = ?", (account_sid,)).fetchone()[0])

    def insert_service(self, service: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO messaging_services (sid, data, seq) VALUES (?, ?, ?)",
                (service["sid"], json.dumps(service), _next_seq()),
            )

    def services_of(self, account: str, *, main: bool) -> list[dict[str, Any]]:
        """The Messaging Services of `account`, oldest first (`main`: also those stored without one)."""
        sql = "SELECT data FROM messaging_services WHERE json_extract(data, '$.account_sid') = ?"
        if main:
            sql += " OR json_extract(data, '$.account_sid') IS NULL"
        with self.read() as db:
            return [json.loads(r[0]) for r in db.execute(sql + " ORDER BY seq", (account,))]

    def get_service(self, sid: str) -> dict[str, Any] | None:
        with self.read() as db:
            row = db.execute("SELECT data FROM messaging_services WHERE sid = ?", (sid,)).fetchone()
        return json.loads(row[0]) if row else None

    def services(self) -> list[dict[str, Any]]:
        with self.read() as db:
            return [json.loads(row[0]) for row in db.execute("SELECT data FROM messaging_services ORDER BY seq")]

    def update_service(self, sid: str, changes: dict[str, Any], *, add_number: str = "", remove_number: str = "") -> None:
        """Change a service's fields; `add_number` puts a PN SID in its sender pool, `remove_number` takes one out."""
        with self.tx() as db:
            row = db.execute("SELECT data FROM messaging_services WHERE sid = ?", (sid,)).fetchone()
            if row is None:
                return
            service = {**json.loads(row[0]), **changes}
            if add_number:
                service["_sandbox"]["number_sids"] = [*service["_sandbox"]["number_sids"], add_number]
            if remove_number:
                service["_sandbox"]["number_sids"] = [s for s in service["_sandbox"]["number_sids"] if s != remove_number]
            db.execute("UPDATE messaging_services SET data = ? WHERE sid = ?", (json.dumps(service), sid))

    # ---------------------------------------------------------------- A2P objects (Trust Hub, brands, campaigns)

    def a2p_put(self, obj: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO a2p_objects (sid, kind, data, seq) VALUES (?, ?, ?, ?)",
                (obj["sid"], obj["_sandbox"]["kind"], json.dumps(obj), _next_seq()),
            )

    def a2p_get(self, sid: str) -> dict[str, Any] | None:
        with self.read() as db:
            row = db.execute("SELECT data FROM a2p_objects WHERE sid = ?", (sid,)).fetchone()
        return json.loads(row[0]) if row else None

    def a2p_list(self, kind: str, *, parent: str = "", account: str = "") -> list[dict[str, Any]]:
        """The objects of a kind, oldest first; only those of `parent` (a campaign's service) or `account`, if given."""
        sql, args = "SELECT data FROM a2p_objects WHERE kind = ?", [kind]
        if parent:
            sql, args = sql + " AND json_extract(data, '$._sandbox.parent') = ?", [*args, parent]
        if account:
            sql, args = sql + " AND json_extract(data, '$.account_sid') = ?", [*args, account]
        with self.read() as db:
            rows = [json.loads(r[0]) for r in db.execute(sql + " ORDER BY seq", args)]
        return [
            r
            for r in rows
            if (not parent or r["_sandbox"].get("parent") == parent) and (not account or r.get("account_sid") == account)
        ]

    def a2p_undecided(self) -> list[dict[str, Any]]:
        """The submitted A2P objects not decided yet, oldest first."""
        sql = (
            "SELECT data FROM a2p_objects WHERE json_extract(data, '$._sandbox.submitted_at') IS NOT NULL"
            " AND NOT coalesce(json_extract(data, '$._sandbox.decided'), 0) ORDER BY seq"
        )
        with self.read() as db:
            return [json.loads(r[0]) for r in db.execute(sql)]

    def a2p_all(self) -> list[dict[str, Any]]:
        with self.read() as db:
            return [json.loads(r[0]) for r in db.execute("SELECT data FROM a2p_objects ORDER BY seq")]

    def a2p_update(self, sid: str, changes: dict[str, Any], *, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Change an object's public fields and its sandbox bookkeeping, atomically."""
        with self.tx() as db:
            row = db.execute("SELECT data FROM a2p_objects WHERE sid = ?", (sid,)).fetchone()
            obj = {**json.loads(row[0]), **changes}
            obj["_sandbox"] = {**obj["_sandbox"], **(meta or {})}
            db.execute("UPDATE a2p_objects SET data = ? WHERE sid = ?", (json.dumps(obj), sid))
        return obj

    def a2p_decide(self, sid: str, changes: dict[str, Any], *, pending_since: float | None) -> dict[str, Any] | None:
        """Record a review's decision on an object, atomically. None (nothing changed) when
        it is gone or, given `pending_since`, no longer the undecided submission of that
        time: a timer and a request deciding it at once decide (and call back) once."""
        with self.tx() as db:
            row = db.execute("SELECT data FROM a2p_objects WHERE sid = ?", (sid,)).fetchone()
            meta = json.loads(row[0])["_sandbox"] if row else {}
            if row is None or (pending_since is not None and (meta.get("decided") or meta.get("submitted_at") != pending_since)):
                return None
            obj = {**json.loads(row[0]), **changes}
            obj["_sandbox"] = {**obj["_sandbox"], "decided": True}
            db.execute("UPDATE a2p_objects SET data = ? WHERE sid = ?", (json.dumps(obj), sid))
        return obj

    def a2p_delete(self, sid: str) -> bool:
        """Remove an A2P object (a deleted campaign); False if there was none."""
        with self.tx() as db:
            return db.execute("DELETE FROM a2p_objects WHERE sid = ?", (sid,)).rowcount > 0

    def a2p_review(self) -> dict[str, Any] | None:
        with self.read() as db:
            row = db.execute("SELECT data FROM a2p_review WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def a2p_review_set(self, review: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO a2p_review (id, data) VALUES (1, ?)", (json.dumps(review),))

    # ---------------------------------------------------------------- messages

    def insert_message(self, message: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO messages (sid, data, seq) VALUES (?, ?, ?)", (message["sid"], json.dumps(message), _next_seq())
            )

    def get_message(self, sid: str) -> dict[str, Any] | None:
        with self.read() as db:
            row = db.execute("SELECT data FROM messages WHERE sid = ?", (sid,)).fetchone()
        return json.loads(row[0]) if row else None

    def update_message(self, sid: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self.tx() as db:
            row = db.execute("SELECT data FROM messages WHERE sid = ?", (sid,)).fetchone()
            message = {**json.loads(row[0]), **changes, "date_updated": now_rfc2822()}
            db.execute("UPDATE messages SET data = ? WHERE sid = ?", (json.dumps(message), sid))
        return message

    def delete_message(self, sid: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM messages WHERE sid = ?", (sid,))

    def messages(self) -> list[dict[str, Any]]:
        with self.read() as db:
            return [json.loads(row[0]) for row in db.execute("SELECT data FROM messages ORDER BY seq")]


def _key(table: str) -> str:
    return "area_code" if table == "empty_area_codes" else "phone_number"
