"""optuna-dashboard on a study's storage and artifact store, served by a small threaded server.

The app is optuna-dashboard's own WSGI app (``optuna_dashboard.wsgi``). By default it is
wrapped read-only: requests that would change the study (rename, delete, tell, notes) get
403, so a dashboard can stay open beside a running controller without racing it.
"""

from __future__ import annotations

import errno
import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna

from hpo.artifacts import ArtifactStore
from hpo.errors import HpoError

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def dashboard_app(
    storage: optuna.storages.BaseStorage,
    artifact_store: ArtifactStore | None,
    *,
    read_only: bool = True,
) -> WSGIApp:
    """optuna-dashboard's WSGI app for ``storage``; read-only unless told otherwise."""
    import optuna_dashboard

    app = optuna_dashboard.wsgi(storage, artifact_store=artifact_store)
    return refuse_writes(app) if read_only else app


def refuse_writes(app: WSGIApp) -> WSGIApp:
    """Wrap ``app`` so that only GET, HEAD and OPTIONS reach it; anything else gets 403."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET").upper() in _SAFE_METHODS:
            return app(environ, start_response)
        body = json.dumps(
            {"reason": "this dashboard is read-only (start it with --allow-edits to edit)"}
        ).encode()
        start_response(
            "403 Forbidden",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return guarded


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False  # Ctrl-C stops at once, not after every open request has ended
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class DashboardServer:
    """A threaded HTTP server for a WSGI app; ``port=0`` picks a free port."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 8080) -> None:
        try:
            self._server = make_server(
                host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
            )
        except OSError as exc:
            hint = "pick another --port (0 picks a free one)"
            if exc.errno != errno.EADDRINUSE:
                hint = "check --host (127.0.0.1 for this machine only, 0.0.0.0 for all)"
            raise HpoError(f"cannot listen on {host}:{port}: {exc.strerror}", hint=hint) from None
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` (from another thread) or KeyboardInterrupt."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def start(self) -> DashboardServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="dashboard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def study_url(base_url: str, storage: optuna.storages.BaseStorage, study_name: str) -> str:
    """The dashboard page of ``study_name``."""
    study_id = storage.get_study_id_from_name(study_name)
    return f"{base_url}/dashboard/studies/{study_id}"
