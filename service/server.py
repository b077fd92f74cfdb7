"""``partnermatch serve``: the web service under gunicorn, a production WSGI server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from service.app import create_app

__all__ = ["serve"]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn with its options given in code; each worker builds its own app."""

    def __init__(self, app_config: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self._app_config = dict(app_config)
        self._options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self._app_config)


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
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            # the Authorization header is never logged: method, path, status, size, time only
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        },
    ).run()
