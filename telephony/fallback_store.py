"""What the fallback webhooks keep outside our database: the office-line cache and the
spool of patients' texts taken while the database was down.

Two stores, chosen by settings (never the primary database, which is what is down):

- **Redis** (`FALLBACK_REDIS_URL`, by default the Celery broker's): shared by every web
  process and the worker, on any host, and up while PostgreSQL is not. The office lines
  are one hash (Twilio number -> JSON), the spool one hash (MessageSid -> JSON): a
  repeated delivery of a MessageSid overwrites itself instead of queueing twice, and a
  replayed message is removed by its SID (a list would need LREM by value).
- **Files** in `FALLBACK_SPOOL_DIR` (the embedded default, one host): the office lines
  in one JSON file, the spool one file per message named by its MessageSid. Every file
  is written to a temporary name, fsynced and renamed into place (atomic on POSIX), so
  a reader never sees half a message and a crash leaves at worst a stray temporary.

If Redis fails while a text is being spooled, the text goes to the local spool
directory instead (nothing a patient sent is lost); the replay reads both.
Nothing here imports a model or touches django.db.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import redis
from django.conf import settings

from telephony.sids import sid_is_valid

logger = logging.getLogger(__name__)

OFFICE_LINES_KEY = "dentsignal:fallback:office-lines"
SMS_SPOOL_KEY = "dentsignal:fallback:sms-spool"
OFFICE_LINES_LOCK_KEY = "dentsignal:fallback:office-lines:lock"
OFFICE_LINES_FILE = "office-lines.json"
# Subaccount SID -> its auth token SEALED (clinics.sealed, FIELD_ENCRYPTION_KEY): what the
# fallbacks check a subaccount number's signature with while the database is down.
ACCOUNT_TOKENS_KEY = "dentsignal:fallback:account-tokens"
ACCOUNT_TOKENS_FILE = "account-tokens.json"
# A field of the copy that no account SID can be: present once the copy has been built
# (its value, when), so that an account missing from a built copy is known to be unknown.
ACCOUNT_TOKENS_BUILT_FIELD = "built-at"
OFFICE_LINES_LOCK_FILE = ".office-lines.lock"
# Seconds a rebuild of the office-line cache may hold its lock (Redis expires it after a
# crash), and seconds another waits for it: a rebuild takes milliseconds, and the wait
# happens after a clinic save's commit, in that request.
OFFICE_LINES_LOCK_SECONDS = 60
OFFICE_LINES_LOCK_WAIT_SECONDS = 10
SMS_SPOOL_DIR = "sms"
# Seconds a fallback waits on Redis: Twilio waits 15 s for the whole answer.
REDIS_TIMEOUT_SECONDS = 2.0
REDIS_ERRORS = (redis.RedisError, OSError)


class FallbackStoreError(Exception):
    """The fallback store could not be read or written."""


@dataclass(frozen=True)
class OfficeLine:
    """What the voice fallback needs of the clinic holding a Twilio number."""

    clinic_id: int
    name: str
    office_phone: str
    # The clinic's Twilio account ("" for the main one): who may sign for this number.
    account_sid: str = ""
    # The published line forwarding its calls to this number (the forward path), "" if none:
    # the voice fallback never rings it (a no-answer forward would bring the call back).
    forwarded_line: str = ""


@dataclass(frozen=True)
class SpooledSms:
    """An inbound SMS taken by the fallback: Twilio's parameters and when it came."""

    message_sid: str
    to_number: str
    from_number: str
    body: str
    received_at: float  # Unix time, for replay in arrival order
    account_sid: str = ""  # the AccountSid the request named
    # The account whose token signed it (telephony.tenants; "" for the main account): the
    # replay acts only on a clinic of that account. A text spooled before the verdict was
    # kept has none and is replayed as the main account's, as it was when it was taken.
    signer: str = ""


# ----------------------------------------------------------------- backends


@cache
def _redis(url: str) -> Any:
    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS)


def _redis_client() -> Any | None:
    """The Redis client when FALLBACK_REDIS_URL is set, else None (files)."""
    url = settings.FALLBACK_REDIS_URL
    return _redis(url) if url else None


def _spool_dir() -> Path:
    return Path(settings.FALLBACK_SPOOL_DIR)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory is synced.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ----------------------------------------------------------------- office lines


def office_lines_replace(lines: Mapping[str, OfficeLine]) -> None:
    """Replace the whole office-line cache (Twilio number -> OfficeLine) at once.

    Raises FallbackStoreError if the store cannot be written.
    """
    encoded = {number: json.dumps(asdict(line)) for number, line in lines.items()}
    _hash_replace(key=OFFICE_LINES_KEY, file_name=OFFICE_LINES_FILE, mapping=encoded, what="the office-line cache")


def _hash_replace(*, key: str, file_name: str, mapping: Mapping[str, str], what: str) -> None:
    """Replace a whole string map: one Redis hash in one MULTI/EXEC (readers see the old
    hash or the new one, never a half-built one), or one JSON file written atomically."""
    client = _redis_client()
    if client is None:
        try:
            _write_atomically(_spool_dir() / file_name, json.dumps(dict(mapping), sort_keys=True).encode())
        except OSError as exc:
            raise FallbackStoreError(f"Could not write {what}: {exc}") from exc
        return
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if mapping:
                pipe.hset(key, mapping=dict(mapping))
            pipe.execute()
    except REDIS_ERRORS as exc:
        raise FallbackStoreError(f"Could not write {what} to Redis: {exc}") from exc


def _hash_get(*, key: str, file_name: str, field: str, what: str) -> str | None:
    """One value of a map written by _hash_replace; None if absent or unreadable (logged)."""
    client = _redis_client()
    try:
        if client is None:
            raw = json.loads((_spool_dir() / file_name).read_bytes()).get(field)
        else:
            raw = client.hget(key, field)
    except FileNotFoundError:
        return None
    except (*REDIS_ERRORS, ValueError) as exc:
        logger.error("Could not read %s: %s", what, exc)
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    return raw if isinstance(raw, str) else None


@contextmanager
def _office_lines_file_lock() -> Iterator[None]:
    """flock on a file beside the cache, waited for at most OFFICE_LINES_LOCK_WAIT_SECONDS."""
    path = _spool_dir() / OFFICE_LINES_LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = open(path, "a")  # closed in the finally below
    except OSError as exc:
        raise FallbackStoreError(f"Could not lock the office-line cache: {exc}") from exc
    try:
        deadline = time.monotonic() + OFFICE_LINES_LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FallbackStoreError("Another rebuild of the office-line cache held its lock too long.") from None
                time.sleep(0.05)
        yield  # closing the file releases the lock
    finally:
        lock_file.close()


@contextmanager
def office_lines_lock() -> Iterator[None]:
    """Hold the office-line cache's rebuild lock (one rebuild at a time, across processes).

    A rebuild reads the clinics and writes the cache inside it, so the last rebuild to
    write is also the last to read: an older snapshot never overwrites a newer one.
    Raises FallbackStoreError if the lock cannot be had.
    """
    client = _redis_client()
    if client is None:
        with _office_lines_file_lock():
            yield
        return
    lock = client.lock(OFFICE_LINES_LOCK_KEY, timeout=OFFICE_LINES_LOCK_SECONDS, blocking_timeout=OFFICE_LINES_LOCK_WAIT_SECONDS)
    try:
        acquired = lock.acquire()
    except REDIS_ERRORS as exc:
        raise FallbackStoreError(f"Could not lock the office-line cache in Redis: {exc}") from exc
    if not acquired:
        raise FallbackStoreError("Another rebuild of the office-line cache held its lock too long.")
    try:
        yield
    finally:
        try:
            lock.release()
        except REDIS_ERRORS:
            logger.warning("The office-line cache's lock expired before its rebuild ended")


def office_line_get(twilio_number: str) -> OfficeLine | None:
    """The cached office line of the clinic holding `twilio_number`, or None if unknown
    or the store cannot be read (the caller then says a message instead)."""
    if not twilio_number:
        return None
    raw = _hash_get(key=OFFICE_LINES_KEY, file_name=OFFICE_LINES_FILE, field=twilio_number, what="the office-line cache")
    return None if raw is None else OfficeLine(**json.loads(raw))


# ----------------------------------------------------------------- subaccount tokens
# A copy of each clinic subaccount's auth token, still sealed with FIELD_ENCRYPTION_KEY
# (never plain here), so that the fallback webhooks can check a subaccount number's
# signature without the database. Rebuilt whole, like the office lines.


def account_tokens_replace(tokens: Mapping[str, str]) -> None:
    """Replace the whole copy (subaccount SID -> sealed token) at once, marked as built;
    FallbackStoreError if it cannot be written."""
    built = {**tokens, ACCOUNT_TOKENS_BUILT_FIELD: str(time.time())}
    _hash_replace(key=ACCOUNT_TOKENS_KEY, file_name=ACCOUNT_TOKENS_FILE, mapping=built, what="the subaccount tokens' copy")


def account_token_sealed_get(account_sid: str) -> str:
    """The sealed auth token kept for `account_sid`, or "" if unknown or unreadable."""
    return account_token_lookup(account_sid) or ""


def account_token_lookup(account_sid: str) -> str | None:
    """The sealed auth token kept for `account_sid`; "" when the copy is built and has no
    such account (no clinic holds it); None when the copy cannot answer (never built, or
    unreadable: logged). One Redis round trip, or one file read."""
    client = _redis_client()
    try:
        if client is None:
            copy = json.loads((_spool_dir() / ACCOUNT_TOKENS_FILE).read_bytes())
            sealed, built = copy.get(account_sid), copy.get(ACCOUNT_TOKENS_BUILT_FIELD)
        else:
            sealed, built = client.hmget(ACCOUNT_TOKENS_KEY, [account_sid, ACCOUNT_TOKENS_BUILT_FIELD])
    except FileNotFoundError:
        return None
    except (*REDIS_ERRORS, ValueError, AttributeError) as exc:
        logger.error("Could not read the subaccount tokens' copy: %s", exc)
        return None
    if built is None:
        return None
    if isinstance(sealed, bytes):
        sealed = sealed.decode()
    return sealed if isinstance(sealed, str) else ""


# ----------------------------------------------------------------- SMS spool


def _spool_file(message_sid: str) -> Path:
    # The SID names the file: two letters and 32 hex digits, nothing else (no path).
    if not sid_is_valid(message_sid):
        raise ValueError(f"{message_sid[:40]!r} is not a Twilio SID")
    return _spool_dir() / SMS_SPOOL_DIR / f"{message_sid}.json"


def sms_spool(message: SpooledSms) -> None:
    """Keep an inbound SMS durably until it is replayed (the same MessageSid again
    replaces itself). Redis when configured, the local spool directory otherwise or if
    Redis fails. Raises FallbackStoreError only if neither could keep it."""
    data = json.dumps(asdict(message))
    client = _redis_client()
    if client is not None:
        try:
            client.hset(SMS_SPOOL_KEY, message.message_sid, data)
            return
        except REDIS_ERRORS as exc:
            logger.error("Could not spool SMS %s to Redis (%s); spooling it to %s", message.message_sid, exc, _spool_dir())
    try:
        _write_atomically(_spool_file(message.message_sid), data.encode())
    except OSError as exc:
        raise FallbackStoreError(f"Could not spool SMS {message.message_sid}: {exc}") from exc


def sms_spooled() -> Iterator[SpooledSms]:
    """Every spooled SMS (Redis's and the local directory's), oldest first."""
    messages: dict[str, SpooledSms] = {}
    client = _redis_client()
    if client is not None:
        for raw in client.hgetall(SMS_SPOOL_KEY).values():
            message = SpooledSms(**json.loads(raw))
            messages[message.message_sid] = message
    directory = _spool_dir() / SMS_SPOOL_DIR
    if directory.is_dir():
        for path in directory.glob("*.json"):
            try:
                message = SpooledSms(**json.loads(path.read_bytes()))
            except FileNotFoundError:
                continue  # replayed meanwhile by another run
            messages.setdefault(message.message_sid, message)
    yield from sorted(messages.values(), key=lambda m: (m.received_at, m.message_sid))


def sms_unspool(message_sid: str) -> None:
    """Forget a spooled SMS once it has been processed (nothing if it is gone already)."""
    client = _redis_client()
    if client is not None:
        client.hdel(SMS_SPOOL_KEY, message_sid)
    _spool_file(message_sid).unlink(missing_ok=True)


def sms_spool_count() -> int:
    """How many texts wait to be replayed (for the doctor and tests)."""
    return sum(1 for _ in sms_spooled())
