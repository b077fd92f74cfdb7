"""``partnermatch serve``: the web service under gunicorn, a production WSGI server."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from threadpoolctl import threadpool_limits

from service.app import create_app
from service.logsafe import EscapingFilter
from service.services import services

__all__ = ["serve", "EscapingLogger", "write_problem"]

#: The headers of every answer gunicorn writes itself (a request too malformed or too large
#: to reach the app: 400, 414 URI too long, 431 header fields too large, ...).
_ERROR_HEADERS = (
    ("Content-Type", "application/problem+json"),
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Connection", "close"),
)


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error answer as RFC 9457 problem+json with the app's security headers,
    not its HTML page (same signature as ``gunicorn.util.write_error``, which it replaces)."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status_int,
            "detail": mesg or reason,
        }
    ).encode()
    head = f"HTTP/1.1 {status_int} {reason}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in _ERROR_HEADERS
    )
    head += f"Content-Length: {len(body)}\r\n\r\n"
    util.write_nonblock(sock, head.encode("latin-1") + body)


class EscapingLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger whose error and access lines escape control characters (a path with
    ``%0a`` cannot write a second, forged line; see :mod:`service.logsafe`)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            if not any(isinstance(f, EscapingFilter) for f in logger.filters):
                logger.addFilter(EscapingFilter())


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn with its options given in code; each worker builds its own app."""

    def __init__(self, app_config: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self._app_config = dict(app_config)
        self._options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        # gunicorn answers malformed and oversized requests itself, before any app code; its
        # one writer of those answers is util.write_error (read at call time by the workers)
        util.write_error = write_problem

    def load(self) -> Any:
        # One BLAS thread per worker: the workers (one per core) are the parallelism, and a
        # BLAS helper thread spins on a core for milliseconds after each call, which took a
        # second core for a whole request with words. Embedding a batch of texts during a
        # rebuild raises it for that call (SentenceEncoder.threads).
        threadpool_limits(1)
        app = create_app(self._app_config)
        # A worker takes connections only once its first index is served (or its build
        # failed), so a started server never answers 503 from one worker while another is
        # ready. The wait stays under gunicorn's worker timeout, which counts from the fork.
        services(app).holder.wait(timeout=self.cfg.timeout / 2)
        return app


def serve(
    app_config: Mapping[str, Any],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int = 1,
    timeout: int = 120,
) -> None:
    """Run the service until stopped (SIGTERM or Ctrl-C stop it gracefully).

    Workers are separate processes, each with its own copy of the recommendation index;
    the database is migrated once before they start (the caller does it). Recommendations
    are CPU-bound Python: more threads per worker only queue on its GIL, so scale with
    workers (one per core) and keep ``threads`` small.
    """
    _Gunicorn(
        app_config,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": timeout,
            "graceful_timeout": 10,
            "limit_request_line": 8190,
            "limit_request_field_size": 8190,
            "logger_class": EscapingLogger,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            # the Authorization header is never logged: method, path, status, size, time only
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        },
    ).run()
