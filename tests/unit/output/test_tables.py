"""The table target's checks: the rows of a window before they are committed, and the one schema of both formats."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_cashflow.domain.models import BusinessType, CashFlow, Direction
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError, OutputFormatError
from airflow_provider_cashflow.output.tables import arrow_schema, check_rows, require, to_arrow

HK = ZoneInfo("Asia/Hong_Kong")
DAY = timedelta(days=1)
# two Hong Kong days
WINDOW = Window.of(datetime(2026, 11, 18, tzinfo=HK).astimezone(UTC), datetime(2026, 11, 20, tzinfo=HK).astimezone(UTC))


def flow(moment: datetime, balance: str = "-1.50") -> CashFlow:
    return CashFlow("Fee", Direction.OUTFLOW, BusinessType.CASH, Decimal(balance), "HKD", moment, None, "")


def test_a_record_s_date_is_its_local_day_and_every_type_is_the_table_s() -> None:
    late = datetime(2026, 11, 19, 17, 30, tzinfo=UTC)  # 01:30 on the 20th in Hong Kong: outside, on purpose below
    inside = datetime(2026, 11, 18, 16, 30, tzinfo=UTC)  # 00:30 on the 19th in Hong Kong
    days = list(WINDOW.days(HK))
    data = to_arrow([(days[0], [flow(inside)]), (days[1], [])], "fund_a", HK)
    assert data.schema == arrow_schema()
    assert data.to_pylist()[0]["date"].isoformat() == "2026-11-19" and data["account"].to_pylist() == ["fund_a"]
    check_rows(data, "fund_a", WINDOW, HK, times=True)
    with pytest.raises(OutputFormatError, match=r"nothing written: a business_time"):
        check_rows(to_arrow([(days[0], [flow(late)])], "fund_a", HK), "fund_a", WINDOW, HK, times=True)


def test_a_row_of_another_day_or_account_is_refused_before_any_commit() -> None:
    other_day = Window(WINDOW.end, WINDOW.end + DAY)
    moment = WINDOW.end + timedelta(hours=1)
    with pytest.raises(OutputFormatError, match=r"outside the days 2026-11-18 to 2026-11-19"):
        check_rows(to_arrow([(other_day, [flow(moment)])], "fund_a", HK), "fund_a", WINDOW, HK, times=False)
    data = to_arrow([(WINDOW, [flow(WINDOW.start)])], "fund_b", HK)
    with pytest.raises(OutputFormatError, match=r"another account than 'fund_a'"):
        check_rows(data, "fund_a", WINDOW, HK, times=True)


def test_an_amount_the_decimal_column_cannot_hold_fails_the_run() -> None:
    with pytest.raises(OutputFormatError, match=r"decimal\(38, 12\)"):
        to_arrow([(WINDOW, [flow(WINDOW.start, "0.0000000000001")])], "fund_a", HK)


@pytest.mark.parametrize(("table_format", "module"), [("iceberg", "pyiceberg"), ("delta", "deltalake")])
def test_a_missing_library_names_the_extra_to_install(
    table_format: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as where the extra is not installed
    with pytest.raises(LongPortConfigError, match=rf"pip install 'airflow-provider-cashflow\[{table_format}\]'"):
        require(table_format)


def test_the_table_writers_import_no_table_library_until_a_table_run() -> None:
    """The provider imports without the iceberg and delta extras: their libraries load inside a table run."""
    code = (
        "import sys; import airflow_provider_cashflow.output.iceberg_table, airflow_provider_cashflow.output.delta_table; "
        "print(sorted(m for m in ('pyiceberg', 'deltalake', 'pyarrow', 'airflow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
