"""Reading optuna-dashboard's JSON API in-process, as the end-to-end tests do."""

from __future__ import annotations

import io
import json
import sys
from typing import Any


def dashboard_get(app: Any, path: str) -> Any:
    """GET ``path`` from the dashboard's WSGI ``app``; the decoded JSON of a 200 answer."""
    status: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
               "SERVER_NAME": "test", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(),
               "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr}  # fmt: skip
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert status[0].startswith("200"), status
    return json.loads(body)
