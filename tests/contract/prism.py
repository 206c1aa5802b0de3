"""Prism (npm @stoplight/prism-cli, pinned) serving one of Twilio's OpenAPI descriptions on
127.0.0.1, and the accounts the contract tests name (Prism accepts any well-formed SID)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.openapi import PRISM, ROOT, require_node_modules

ACCOUNT = "AC" + "c0" * 16
PHONE_SID = "PN" + "ab" * 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_path(name: str) -> Path:
    """var/prism-<name>.log: what the Prism serving `name` logged (its validator's findings);
    one per pytest-xdist process."""
    process = os.environ.get("PYTEST_XDIST_WORKER", "")
    return ROOT / "var" / f"prism-{name}{'-' + process if process else ''}.log"


def serve(spec_path: Path, name: str) -> Iterator[str]:
    """Prism mocking `spec_path` until the generator is closed; yields its URL."""
    require_node_modules()
    port = _free_port()
    log_file = log_path(name)
    log_file.parent.mkdir(exist_ok=True)
    log = open(log_file, "w")  # closed in the finally below
    proc = subprocess.Popen(
        [str(PRISM), "mock", str(spec_path), "-h", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"Prism exited ({proc.returncode}); see {log_file}")
            try:
                requests.get(url, timeout=1)
                break
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or listening but still loading the spec (slow on a busy machine).
                time.sleep(0.1)
        else:
            raise RuntimeError(f"Prism did not start within 60 s; see {log_file}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
