"""The tests' toolkit, one module per concern; fixtures live in ``tests/conftest.py``.

- :mod:`tests.helpers.data`: the fixed data set and the sandbox's ground truth (what a window must hold);
- :mod:`tests.helpers.lake`: reading written files back, and the exactness check of a lake against the truth;
- :mod:`tests.helpers.connections`: Airflow connections for a sandbox, set through ``AIRFLOW_CONN_*``;
- :mod:`tests.helpers.operator`: the operator run as a task would run it, without a metadata DB;
- :mod:`tests.helpers.processes`, :mod:`tests.helpers.servers`: free ports, stopping process groups, and the
  real Redis, moto (S3) and PostgreSQL servers;
- :mod:`tests.helpers.airflow`, :mod:`tests.helpers.cluster`: real Airflow in subprocesses (a home, the CLI,
  ``airflow standalone``; the Celery cluster on PostgreSQL);
- :mod:`tests.helpers.fake_time`: a clock that moves only when told.

``api_probe.py``, ``task_process.py`` and ``dags_test.py`` are programs the tests start;
``sqlite_local_settings.py`` is copied into each test AIRFLOW_HOME.
"""
