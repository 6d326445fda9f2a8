"""moto for tests and benchmarks: a threaded server that trainer subprocesses can reach.

``moto_server()`` must run inside ``mock_aws()``: the server shares the in-process mock's
state, so what a trainer subprocess writes through ``AWS_ENDPOINT_URL`` is what the
controller's in-process boto3 client reads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """Start ``ThreadedMotoServer`` on a free local port; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def container_env(endpoint: str, region: str = REGION) -> dict[str, str]:
    """Environment a fake container needs to reach moto (stands in for the job role)."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
