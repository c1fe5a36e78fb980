"""Lake tables as a user reads them: DuckDB with the iceberg and delta extensions from their pip packages, an
Iceberg catalog connection (SQL catalog on SQLite or PostgreSQL), and the rows of a day back as ``to_dict()`` rows
to compare with the sandbox's truth."""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

# DuckDB reads the table, never pyarrow through deltalake: deltalake can abort at interpreter exit after
# to_pyarrow_table() (lake-tables.md)
COLUMNS = (
    "transaction_flow_name, direction, business_type, balance::VARCHAR AS balance, currency, "
    "strftime(business_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS business_time, symbol, description"
)


def sqlite_catalog(root: Path, warehouse: str | None = None) -> dict[str, Any]:
    """An ``iceberg`` connection: pyiceberg's SQL catalog on SQLite under ``root``, its warehouse there too."""
    root.mkdir(parents=True, exist_ok=True)
    return {
        "conn_type": "iceberg",
        "extra": {"type": "sql", "uri": f"sqlite:///{root}/catalog.db", "warehouse": warehouse or root.as_uri()},
    }


def extension(name: str) -> str:
    """The file of a DuckDB extension shipped by its pip package (``duckdb-extension-<name>``)."""
    package = importlib.import_module(f"duckdb_extension_{name}")
    (path,) = Path(package.__path__[0]).glob(f"extensions/*/{name}.duckdb_extension")
    return str(path)


@contextmanager
def duck(s3: Any = None) -> Iterator[Any]:
    """A DuckDB connection with avro, iceberg and delta loaded (avro first: iceberg reads its manifests); with a
    moto server, a secret that points every ``s3://`` read at it (without one, DuckDB asks the cloud's metadata
    address for credentials)."""
    import duckdb

    con = duckdb.connect()
    try:
        for name in ("httpfs", "avro", "iceberg", "delta"):
            con.execute(f"LOAD '{extension(name)}'")
        if s3 is not None:
            con.execute(
                "CREATE SECRET moto (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', "
                f"ENDPOINT '127.0.0.1:{s3.port}', URL_STYLE 'path', USE_SSL false)"
            )
        yield con
    finally:
        con.close()


def scan(table_format: str, location: str) -> str:
    """The DuckDB table function over a table: an Iceberg table's metadata file, a Delta table's folder."""
    return f"iceberg_scan('{location}')" if table_format == "iceberg" else f"delta_scan('{location}')"


def rows_by_day(con: Any, source: str, account: str) -> dict[str, list[dict[str, Any]]]:
    """The account's rows per ``date``, newest first (the API's order, ties in the table's order), balances
    normalised: the table keeps the amount at decimal(38, 12), not its text."""
    result = con.execute(
        f"SELECT strftime(date, '%Y-%m-%d') AS day, {COLUMNS} FROM {source} WHERE account = ? "
        "ORDER BY business_time DESC",
        [account],
    )
    names = [d[0] for d in result.description]
    days: dict[str, list[dict[str, Any]]] = {}
    for values in result.fetchall():
        row = dict(zip(names, values, strict=True))
        row["balance"] = str(Decimal(row["balance"]).normalize())
        days.setdefault(row.pop("day"), []).append(row)
    return days


def normalised(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``to_dict()`` rows with their balance normalised, sorted as :func:`rows_by_day` sorts (ties by content)."""
    out = [{**r, "balance": str(Decimal(r["balance"]).normalize())} for r in rows]
    return sorted(out, key=lambda r: (r["business_time"], json.dumps(r, sort_keys=True)), reverse=True)


def same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal as multisets of rows (the order inside a second is the API's, which a table does not keep)."""
    return normalised(a) == normalised(b)


class HoldingProxy:
    """A TCP proxy on a free loopback port in front of ``port`` (a moto server) that forwards every byte until a
    client sends a request matching ``pattern``: that request is held, never forwarded, and :attr:`held` is set.
    A task killed then was killed in the middle of its commit, with the data files already written."""

    def __init__(self, port: int, pattern: bytes) -> None:
        import re
        import socket
        import threading

        self._upstream, self._pattern = port, re.compile(pattern)
        self.held = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._sockets: list[Any] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._upstream))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: Any, sink: Any, from_client: bool) -> None:
        tail = b""
        try:
            while data := source.recv(65536):
                if from_client and self._pattern.search(tail + data):
                    self.held.set()
                    return  # the request never reaches the server
                tail = data[-512:]
                sink.sendall(data)
        except OSError:
            return

    def stop(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
