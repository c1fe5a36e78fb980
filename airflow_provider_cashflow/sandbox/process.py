"""The sandbox as a child process: what the demo, the end-to-end tests and the benchmarks talk to.

A separate process matters: the official SDK blocks inside native code holding the GIL, so it cannot
reach a server that runs in its own interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from typing import Any

from airflow_provider_cashflow.sandbox.drift import DriftTruth

__all__ = ["SandboxProcess"]


class SandboxProcess:
    """Starts ``python -m airflow_provider_cashflow.sandbox ARGS`` on a free loopback port; stops it on exit.

    :param args: command-line flags for the sandbox (see ``--help``).
    :param startup_timeout: seconds to wait for the base URL line.
    """

    def __init__(self, *args: str, startup_timeout: float = 60.0, env: dict[str, str] | None = None):
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.banner = ""  # what it printed after the base URL: connection lines, credentials, data range

    def start(self) -> SandboxProcess:
        # stderr goes to a file: a pipe nobody reads would fill up and freeze the server
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - outlives this call; closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_cashflow.sandbox", "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=self.env or os.environ.copy(),
        )
        line = _read_line(self.process, self._stderr, self.startup_timeout)
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.base_url = line.strip()
        self.banner = _read_banner(self.process)
        return self

    @property
    def connection_line(self) -> str:
        """The ``export AIRFLOW_CONN_LONGPORT_DEFAULT='...'`` line the sandbox printed for itself."""
        return next(
            line for line in self.banner.splitlines() if line.startswith("export AIRFLOW_CONN_LONGPORT_DEFAULT=")
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
            self._stderr.close()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._call("/__sandbox/stats")
        return stats

    def control(self, **change: Any) -> None:
        self._call("/__sandbox/control", change)

    def signatures(self) -> list[str]:
        seen: list[str] = self._call("/__sandbox/signatures")
        return seen

    def records(self, start_time: int, end_time_exclusive: int, as_of: int | None = None) -> list[dict[str, Any]]:
        """Ground truth: every record of ``[start_time, end_time_exclusive)`` in API order, as seen at ``as_of``
        (``None``: the converged history, every late posting in and every provisional record settled)."""
        view = "" if as_of is None else f"&as_of={as_of}"
        rows: list[dict[str, Any]] = self._call(
            f"/__sandbox/records?start_time={start_time}&end_time={end_time_exclusive}{view}"
        )
        return rows

    def mark(self) -> int:
        """The current tick: pages served so far (see :mod:`airflow_provider_cashflow.sandbox.drift`)."""
        return int(self._call("/__sandbox/mark")["mark"])

    def drift_truth(self, start_time: int, end_time: int, *, after: int = 0, app_key: str | None = None) -> DriftTruth:
        """Which records of ``[start_time, end_time)`` existed throughout the pages served after ``after``, which
        came and which went (``GET /__sandbox/drift``)."""
        key = f"&app_key={app_key}" if app_key else ""
        answer = self._call(f"/__sandbox/drift?start_time={start_time}&end_time={end_time}&after={after}{key}")
        calls = answer["calls"]
        return DriftTruth(tuple(calls) if calls else None, answer["throughout"], answer["came"], answer["went"])

    def us_records(self, start_time: int, end_time: int) -> list[dict[str, Any]]:
        """Ground truth: the US entries of ``[start_time, end_time)`` by the filtered time field, newest first."""
        rows: list[dict[str, Any]] = self._call(
            f"/__sandbox/records?start_time={start_time}&end_time={end_time}&endpoint=us"
        )
        return rows


def _read_banner(process: subprocess.Popen[str]) -> str:
    """The lines the sandbox prints after its base URL, up to the empty line that ends them (one write, so no wait)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        if not line.strip():
            break
        lines.append(line.rstrip("\n"))
    return "\n".join(lines)


def _read_line(process: subprocess.Popen[str], stderr: Any, timeout: float) -> str:
    import selectors

    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        process.kill()
        raise RuntimeError(f"sandbox printed no base URL within {timeout} s")
    line = process.stdout.readline()
    if not line:
        stderr.seek(0)
        err = stderr.read()
        raise RuntimeError(f"sandbox exited before it was ready: {err[-2000:]}")
    return line
