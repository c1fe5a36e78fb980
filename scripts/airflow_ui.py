"""``make airflow``: Airflow's own UI on this machine, with the sandbox as ``longport_default`` and the example DAGs.

Starts the LongPort sandbox and ``airflow standalone`` (API server and UI, scheduler, DAG processor, triggerer)
in ``.airflow/`` inside the checkout (ignored by git), prints the URL and the login, and runs until Ctrl-C,
which stops everything it started. Test connection is enabled, so the connection's Test button works.

    make airflow              # port 8080, or a free one if 8080 is taken
    make airflow PORT=9090
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / ".airflow"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
USER = "admin"


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def login_password(home: Path) -> str:
    """The admin's password, made once per ``.airflow`` and kept (Airflow's simple auth manager reads this file)."""
    path = home / "passwords.json"
    if path.exists():
        return json.loads(path.read_text())[USER]
    password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({USER: password}))
    return password


def environment(home: Path, port: int) -> dict[str, str]:
    url = f"http://localhost:{port}"
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "LONGPORT_CASHFLOW_OUTPUT": f"file://{home / 'lake'}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }


def airflow(env: dict[str, str], *args: str, check: bool = True) -> None:
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True)
    if check and result.returncode:
        raise SystemExit(f"airflow {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-3000:]}")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
            health = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return all(health.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler", "dag_processor"))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (or SIGINT where a shell ignored it) stops everything as Ctrl-C does


def save_connection(url: str, password: str, connection: dict[str, object]) -> None:
    """Saves a connection through the REST API, as the UI does. Not the CLI: it drops port 0, and the port must be 0
    for Airflow 3.3's list Test button, which sends 0 for the hidden port field and refuses a saved connection whose
    port differs (the provider ignores port 0)."""
    login = urllib.request.Request(f"{url}/auth/token", data=json.dumps({"username": USER, "password": password}).encode(),
                                   headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(login, timeout=30) as response:
        token = json.loads(response.read())["access_token"]
    request = urllib.request.Request(f"{url}/api/v2/connections", data=json.dumps(connection).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    urllib.request.urlopen(request, timeout=30).close()


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    from airflow_provider_cashflow.sandbox import DEMO
    from airflow_provider_cashflow.sandbox.process import SandboxProcess

    HOME.mkdir(exist_ok=True)
    port = free_port(int(os.environ.get("PORT") or 8080))
    env, url = environment(HOME, port), f"http://localhost:{port}"
    password = login_password(HOME)
    print("==> starting the LongPort sandbox on loopback", flush=True)
    with SandboxProcess() as sandbox:
        print(f"==> preparing Airflow in {HOME.relative_to(REPO)}/ (db migrate, pool longport_api)",
              flush=True)
        airflow(env, "db", "migrate")
        airflow(env, "pools", "set", "longport_api", "4", "LongPort cash-flow API budget")
        airflow(env, "connections", "delete", "longport_default", check=False)  # the sandbox's port is new
        print("==> starting airflow standalone (about a minute)", flush=True)
        log = (HOME / "standalone.log").open("w")
        server = subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            while not healthy(url):
                if server.poll() is not None:
                    raise SystemExit(f"airflow standalone exited; see {HOME / 'standalone.log'}")
                time.sleep(2)
            save_connection(url, password, {
                "connection_id": "longport_default", "conn_type": "longport", "host": sandbox.base_url, "port": 0,
                "login": DEMO.app_key, "password": DEMO.app_secret, "extra": json.dumps({"access_token": DEMO.access_token}),
            })
            print(f"\n    Airflow UI:  {url}\n    login:       {USER} / {password}\n"
                  f"    connection:  Admin -> Connections -> longport_default (the sandbox at {sandbox.base_url})\n"
                  f"    log:         {HOME.relative_to(REPO)}/standalone.log\n\nCtrl-C stops Airflow and the sandbox.",
                  flush=True)
            server.wait()
            return server.returncode or 0
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
            return 0
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
            log.close()


if __name__ == "__main__":
    sys.exit(main())
