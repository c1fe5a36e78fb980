"""Apache Airflow provider for LongPort OpenAPI cash flows (``GET /v1/asset/cashflow``).

Kept import-light on purpose: Airflow imports the provider-info entry point on every CLI command,
and the sandbox runs without Airflow at all.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
