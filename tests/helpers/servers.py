"""Real servers for tests, each on a free loopback port and stopped by :meth:`stop` (also via ``with``):
Debian's ``redis-server`` and PostgreSQL, and moto's S3 server."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers.processes import free_port, stop_process


class RedisServer:
    """Started on construction, nothing saved to disk; :meth:`stop` ends it, whatever the test did."""

    def __init__(self, *options: str, startup_timeout: float = 30.0) -> None:
        """:param options: more ``redis-server`` options, e.g. ``"--requirepass", "pw"``."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run `make test` (it installs the Debian package redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="redis-")
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - the server's log, closed by stop()
        self._command = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir.name,
            "--daemonize",
            "no",
            *options,
        ]
        self._start(startup_timeout)

    def _start(self, startup_timeout: float) -> None:
        self.process = subprocess.Popen(
            self._command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + startup_timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {self.log_tail()}")
            time.sleep(0.1)

    def restart_empty(self, startup_timeout: float = 30.0) -> None:
        """Kill the server as a crash would (SIGKILL) and start it again on the same port, holding nothing."""
        self.process.kill()
        self.process.wait()
        self._start(startup_timeout)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))  # up, with or without a password
        except OSError:
            return False

    def log_tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class MotoServer:
    """A real S3 API: moto's server process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - the server's log, closed by stop()
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).read()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()

    def connection(self) -> dict[str, Any]:
        return {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{name} is missing: run `make test` (it installs the Debian package postgresql)")
    return found


# The machine's temporary folder, read on import: the suite's fixtures then point TMPDIR into pytest's own folder
# (see conftest.py), which is closed to other users.
_SYSTEM_TEMP = tempfile.gettempdir()


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port. PostgreSQL refuses to run as root, so the cluster
    belongs to the ``postgres`` user; its data and socket folders live in a folder of its own in the machine's
    temporary folder (pytest's are closed to other users), removed by :meth:`stop`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="airflow-pg-", dir=_SYSTEM_TEMP))
        self.data, self.sockets, self.log = self.root / "data", self.root / "sockets", self.root / "server.log"
        self.sockets.mkdir()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"
        self.started = False
        shutil.chown(self.root, "postgres")
        shutil.chown(self.sockets, "postgres")

    def _as_postgres(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        self._as_postgres(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.started = True
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        self._as_postgres(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "airflow")
        return self

    def stop(self) -> None:
        if self.started:
            try:
                self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill_postmaster()
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.killpg(os.getpgid(pid), signal.SIGKILL)  # pg_ctl starts the postmaster in a session of its own
        except (OSError, ValueError, IndexError):
            pass


_S3_FAULTS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
    403: ("AccessDenied", "Access Denied"),
}


class FaultProxy:
    """An HTTP proxy in front of ``upstream`` (the moto server): each request that ``fault(method, path)`` gives a
    status (500, 503, 403) is answered with S3's error for it, every other one is passed on. Stopped by :meth:`stop`.

    :param upstream: e.g. ``http://127.0.0.1:PORT``.
    :param fault: called with the method and the path with its query; an HTTP status, or ``None`` to pass it on.
    """

    def __init__(self, upstream: str, fault: Any) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        host, port = urlsplit(upstream).hostname or "127.0.0.1", urlsplit(upstream).port
        self.faults: list[tuple[str, str, int]] = []  # what it refused: method, path, status
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = fault(self.command, self.path)
                if status:
                    proxy.faults.append((self.command, self.path, status))
                    code, message = _S3_FAULTS.get(status, ("InternalError", "An error."))
                    answer = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                upstream_conn = http.client.HTTPConnection(host, port, timeout=60)
                try:
                    upstream_conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                    response = upstream_conn.getresponse()
                    data = response.read()
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                            self.send_header(name, value)
                    # a HEAD answers the object's length, with no body
                    self.send_header(
                        "Content-Length",
                        response.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)),
                    )
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream_conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def connection(self) -> dict[str, Any]:
        """An ``aws`` connection through this proxy, its retries few (the test is about what comes after them)."""
        return {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {
                "endpoint_url": self.endpoint,
                "region_name": "us-east-1",
                "config_kwargs": {"retries": {"mode": "standard", "total_max_attempts": 2}},
            },
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
