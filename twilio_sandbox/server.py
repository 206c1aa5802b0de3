"""Serve the sandbox Twilio over HTTP (threaded), for the app, workers and tests."""

from __future__ import annotations

import io
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import SandboxApp
from .reviews import review_due

logger = logging.getLogger(__name__)
# How often the review timer looks for A2P reviews whose time has come.
REVIEW_TICK_SECONDS = 0.5


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
    """A running sandbox: `.url` to reach it, `.stop()` to shut it down.

    Beside the HTTP server runs the review timer: every REVIEW_TICK_SECONDS it decides the
    A2P reviews whose time has come (twilio_sandbox/reviews.py), as Twilio's reviewers do
    whether or not anybody asks, so their status callbacks go out on time.
    """

    def __init__(self, db_path: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = SandboxApp(db_path)
        self.httpd = make_server(host, port, self.app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.url = f"http://{host}:{self.httpd.server_port}"
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._reviews = threading.Thread(target=self._review_timer, name="twilio-sandbox-reviews", daemon=True)

    def start(self) -> SandboxServer:
        """Serve (and run the review timer) in background threads."""
        self._reviews.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="twilio-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve(self) -> None:
        """Serve in this thread (the review timer in the background) until interrupted."""
        self._reviews.start()
        try:
            self.httpd.serve_forever()
        finally:
            self._stopping.set()
            self.httpd.server_close()

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._reviews.is_alive():
            self._reviews.join(timeout=5)

    def _review_timer(self) -> None:
        while not self._stopping.wait(REVIEW_TICK_SECONDS):
            try:
                review_due(self.app.sandbox)
            except Exception:
                logger.exception("The sandbox's A2P review timer failed; it tries again at its next tick")


def start_in_thread(db_path: str, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Start the sandbox in a background thread (tests); port 0 picks a free port."""
    return SandboxServer(db_path, host, port).start()


def serve_forever(host: str, port: int, db_path: str) -> None:
    """Serve the sandbox in the foreground until interrupted."""
    SandboxServer(db_path, host, port).serve()
