"""Serve the sandbox Twilio over HTTP (threaded), for the app, workers and tests."""

from __future__ import annotations

import io
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import SandboxApp

logger = logging.getLogger(__name__)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.debug(format, *args)

    def get_environ(self) -> dict:
        environ = super().get_environ()
        # The app calls this to lose a response on purpose (fault mode drop_after).
        environ["sandbox.drop_connection"] = self._drop
        return environ

    def get_stderr(self) -> io.StringIO:
        # A dropped connection makes wsgiref print a traceback; it is expected here.
        return io.StringIO()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class SandboxServer:
    """A running sandbox: `.url` to reach it, `.stop()` to shut it down."""

    def __init__(self, db_path: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = SandboxApp(db_path)
        self.httpd = make_server(host, port, self.app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.url = f"http://{host}:{self.httpd.server_port}"
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="twilio-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_in_thread(db_path: str, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Start the sandbox in a background thread (tests); port 0 picks a free port."""
    return SandboxServer(db_path, host, port).start()


def serve_forever(host: str, port: int, db_path: str) -> None:
    """Serve the sandbox in the foreground until interrupted."""
    server = SandboxServer(db_path, host, port)
    try:
        server.httpd.serve_forever()
    finally:
        server.httpd.server_close()
