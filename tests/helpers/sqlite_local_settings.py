"""``airflow_local_settings`` for the test Airflows: their SQLite metadata DB next to a running scheduler.

Copied into each test AIRFLOW_HOME's ``config/`` (not imported from here, so that the in-process Airflow of
the other tests never picks it up).
"""

from __future__ import annotations

import os

# SQLite lets one writer in at a time and by default gives up after 5 s. Wait for the lock instead.
connect_args = {"timeout": 120}

if os.environ.get("E2E_SQLITE_BEGIN_IMMEDIATE"):
    # A CLI command that writes after reading (``backfill create --reprocess-behavior completed`` clears runs
    # it has just read) fails at once with "database is locked" when the scheduler committed in between: its
    # read snapshot went stale, and no busy timeout helps. Taking the write lock when each transaction begins
    # makes it wait its turn instead. Only for short CLI commands: a long-lived server would hold the lock
    # across its reads too.
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine

    @event.listens_for(Engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        if conn.dialect.name == "sqlite" and not conn.dialect.is_async:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
