"""Runs one local job and records how it ended, so a restarted controller can find out.

``python -m hpo.backends.launcher STATE_DIR LOG_FILE -- ARGV...`` is started in its own
session by the local backend. It writes ``pid.json`` at start and ``exit.json`` (atomically)
when the trainer exits, with the trainer's CPU seconds (its wall time counts waiting for a
busy machine too); both outlive the controller. Standard library only.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path


def write_json(path: Path, doc: dict[str, object]) -> None:
    """Write ``doc`` atomically: a reader (or a restarted controller) never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell reused pids apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def pid_alive(pid: int, ticks: int | None) -> bool:
    """True if ``pid`` runs and is the process recorded (same start time); zombies are dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return False
    return ticks is None or int(fields[19]) == ticks


TAIL_BYTES = 4096
TAIL_LINES = 5


def output_tail(log_file: str) -> str:
    """The last few non-empty lines of the trainer's output (bounded), for a failure reason."""
    try:
        with open(log_file, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - TAIL_BYTES))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-TAIL_LINES:])[-1000:]


def main(argv: list[str]) -> int:
    state_dir, log_file, sep, *command = argv
    if sep != "--" or not command:
        print("usage: launcher STATE_DIR LOG_FILE -- ARGV...", file=sys.stderr)
        return 2
    state = Path(state_dir)
    started = time.time()
    me = os.getpid()
    write_json(
        state / "pid.json", {"pid": me, "ticks": process_start_ticks(me), "started_at": started}
    )
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    with open(log_file, "ab", buffering=0) as log:
        try:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            log.write(f"hpo: cannot start {command[0]!r}: {exc}\n".encode())
            write_json(
                state / "exit.json",
                {
                    "returncode": 127,
                    "started_at": started,
                    "ended_at": time.time(),
                    "error": str(exc),
                },
            )
            return 127
        returncode = child.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the trainer and what it waited for
    doc: dict[str, object] = {
        "returncode": returncode,
        "started_at": started,
        "ended_at": time.time(),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    if returncode != 0:
        doc["tail"] = output_tail(log_file)
    write_json(state / "exit.json", doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
