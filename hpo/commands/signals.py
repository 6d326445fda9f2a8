"""Ctrl-C and SIGTERM for the long-running commands (``hpo run``, ``dashboard``, ``--watch``,
``--follow``)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], None]


@contextlib.contextmanager
def on_stop_signals(handler: Handler) -> Iterator[None]:
    """Call ``handler`` on Ctrl-C or SIGTERM while the block runs, also when SIGINT came in
    ignored (a process started as a script's background job); the previous handlers come
    back afterwards. Outside the main thread signals cannot be set and are left alone."""
    try:
        previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    except ValueError:
        previous = {}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interruptible() -> contextlib.AbstractContextManager[None]:
    """SIGTERM, and a SIGINT that came in ignored, raise KeyboardInterrupt as Ctrl-C does."""
    return on_stop_signals(_raise_interrupt)
