"""Load generator for bench/webhooks.py: signed Twilio-style POSTs at a fixed concurrency.

Runs in its own process. Requests are built and signed before the clock starts, each
with a unique CallSid/MessageSid, spread over the clinics. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

PATHS = {
    "baseline": "/bench/baseline",
    "one-write": "/bench/one-write",
    "voice": "/inbound/voice",
    "sms": "/api/sms/inbound",
    "status": "/twilio/status",
}


def build(kind: str, count: int, clinics: list[dict], base_url: str, token: str, account_sid: str) -> list[tuple[str, dict]]:
    """`count` (body, headers) pairs for one webhook, signed as Twilio signs them: with the
    auth token of `account_sid`, which Twilio sends as AccountSid."""
    validator, run = RequestValidator(token), secrets.token_hex(6)
    url = base_url + PATHS[kind]
    requests = []
    for i in range(count):
        clinic = clinics[i % len(clinics)]
        sid_hex = f"{run}{i:020x}"  # 12 + 20 hex digits: unique within and across runs
        if kind in ("voice", "baseline", "one-write"):
            params = {
                "CallSid": "CA" + sid_hex,
                "From": clinic["patient"],
                "To": clinic["number"],
                "CallStatus": "ringing",
                "Direction": "inbound",
                "AccountSid": account_sid,
            }
        elif kind == "sms":
            params = {
                "MessageSid": "SM" + sid_hex,
                "From": clinic["patient"],
                "To": clinic["number"],
                "Body": "C",
                "NumMedia": "0",
                "AccountSid": account_sid,
            }
        else:
            params = {
                "CallSid": "CA" + sid_hex,
                "CallStatus": "completed",
                "CallDuration": "42",
                "SequenceNumber": "3",
                "AccountSid": account_sid,
            }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        requests.append((urlencode(params), headers))
    return requests


async def drive(url: str, requests: list[tuple[str, dict]], concurrency: int, duration: float) -> dict:
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal next_index, errors
            while time.perf_counter() < deadline and next_index < len(requests):
                body, headers = requests[next_index]
                next_index += 1
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                        if not 200 <= response.status < 300:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": statuses,
        "exhausted": next_index >= len(requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--kind", choices=sorted(PATHS), required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--clinics", required=True, help="JSON file: [{number, patient}, ...]")
    parser.add_argument("--token", required=True)
    parser.add_argument("--account-sid", required=True, help="the account whose token signs (sent as AccountSid)")
    parser.add_argument("--max-requests", type=int, default=60000)
    args = parser.parse_args()
    with open(args.clinics) as f:
        clinics = json.load(f)
    requests = build(args.kind, args.max_requests, clinics, args.base_url, args.token, args.account_sid)
    result = asyncio.run(drive(args.base_url + PATHS[args.kind], requests, args.concurrency, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
