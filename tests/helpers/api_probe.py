"""Airflow's real REST API in-process (its FastAPI app, no server): ``python -m tests.helpers.api_probe REQUESTS_JSON``.

Runs each ``[method, path, body]`` of the JSON list in order, logged in as the simple auth manager's admin, and
prints ``[[status, json], ...]``. A test runs it with an ``AirflowHome``'s environment, so the app reads that
home's metadata DB exactly as ``airflow api-server`` would.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    token = client.get("/auth/token").json()["access_token"]  # all-admins mode hands out an admin token
    answers = []
    for method, path, body in json.loads(sys.argv[1]):
        response = client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        answers.append([response.status_code, response.json() if response.content else None])
    print("API-PROBE " + json.dumps(answers))


if __name__ == "__main__":
    main()
