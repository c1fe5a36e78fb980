"""What every server a test starts needs: a free loopback port, and a stop that always ends the process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds; reaped either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def signal_group(group: int, sig: int) -> None:
    """``killpg`` that does not mind a group already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)


def stop_groups(processes: Iterable[subprocess.Popen], grace: float = 20) -> None:
    """SIGTERM to the process group each of ``processes`` leads (started with ``start_new_session=True``), then
    SIGKILL to whatever is left after ``grace`` seconds: their children (task processes, servers) outlive them."""
    processes = list(processes)
    for process in processes:
        signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in processes):
        time.sleep(0.5)
    for process in processes:
        signal_group(process.pid, signal.SIGKILL)
    for process in processes:
        process.wait(timeout=30)


def run_script(script: str, *args: object, timeout: float = 120) -> dict:
    """Run ``script`` (e.g. the official SDK's paging loop) in a fresh interpreter; its JSON output, parsed.

    A fresh process keeps the SDK's own runtime and logging out of the test's, as a user's script would run it.
    """
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
