"""A person's view of the Airflow UI: headless Chromium (Debian's) logs in, adds a ``longport`` connection through
the form and presses Test on saved connections, good and bad. Screenshots go to the test's tmp folder, and those the
docs show to $CASHFLOW_DOCS_SCREENSHOTS when it is set (`make screenshots`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cashflow.compat import AIRFLOW_VERSION
from airflow_provider_cashflow.sandbox import DEMO
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import AirflowServer
from tests.helpers.connections import api_body, longport_connection

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1200",
)


@pytest.fixture(autouse=True, scope="module")
def _browser_installed() -> None:
    """A missing browser fails the module, saying how to get it, as a missing redis or postgres does: a skip
    would pass for a green UI test."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: run `make test` (it installs the Debian packages chromium and "
            "chromium-driver: DEBIAN_PACKAGES)",
            pytrace=False,
        )


def _save(conn_id: str, password: str, base_url: str) -> list[Any]:
    """A POST to the REST API saving the connection with port 0, as the README advises (the CLI drops port 0), so
    that Airflow 3.3's list Test, which sends port 0, restores the saved secrets."""
    return ["POST", "/api/v2/connections", api_body(conn_id, longport_connection(base_url, password=password), port=0)]


@pytest.fixture(scope="module")
def ui(standalone: AirflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The session's ``airflow standalone`` (a login, test connection enabled; see conftest.py) with two
    connections saved by the REST API."""
    root = tmp_path_factory.mktemp("ui")
    home = standalone.home
    with SandboxProcess("--no-rate-limit", "--days", "2", "--per-day", "5") as sandbox:
        saves = [
            _save("lp_saved_good", DEMO.app_secret, sandbox.base_url),
            _save("lp_saved_bad", "not-the-app-secret", sandbox.base_url),
        ]
        home.api(saves, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True")
        yield {
            "url": standalone.url,
            "password": standalone.password,
            "sandbox": sandbox,
            "shots": root / "screenshots",
        }


@pytest.fixture(scope="module")
def browser(ui: dict[str, Any]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = ui["shots"].parent / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    # An explicit driver path: Selenium Manager (which would download a driver) never runs.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    ui["shots"].mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(predicate: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


# the screenshots docs/connection.md shows, by the names it shows them under
DOCS_SHOTS = {
    "03-form-standard": "connection-form",
    "03-form-filled": "connection-form-extras",
    "05-test-good": "test-good",
    "06-test-wrong-secret": "test-wrong-secret",
}


def _shot(driver: Any, ui: dict[str, Any], name: str) -> None:
    path = ui["shots"] / f"{name}.png"
    driver.save_screenshot(str(path))
    docs = os.environ.get("CASHFLOW_DOCS_SCREENSHOTS")
    if docs and name in DOCS_SHOTS:
        Path(docs).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(docs) / f"{DOCS_SHOTS[name]}.png")


def _toast(driver: Any, ui: dict[str, Any], title: str, containing: str, shot: str) -> str:
    """The text (title and message) of the toast with this title that says ``containing``, once it shows; a
    screenshot either way."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def toasts() -> list[str]:
        texts = []
        for toast in driver.find_elements(By.CSS_SELECTOR, "[data-scope=toast]"):
            with contextlib.suppress(StaleElementReferenceException):  # it closed meanwhile
                texts.append(toast.text)
        return [text for text in texts if text]

    seen: list[str] = []

    def look() -> str | None:
        shown = toasts()
        seen.extend(t for t in shown if t not in seen)
        # the toast group's text holds every toast: the shortest match is the one toast
        return min((t for t in shown if title in t and containing in t), key=len, default=None)

    driver.implicitly_wait(0)  # poll: a toast lives a few seconds, an implicit wait could outlast it
    try:
        return _wait(look, f"a toast {title!r} saying {containing!r}", timeout=60)
    except AssertionError as error:
        raise AssertionError(f"{error}; toasts seen: {seen}") from None
    finally:
        _shot(driver, ui, shot)
        driver.implicitly_wait(10)


def _click(element: Any, what: str) -> None:
    """Click as a person does, once the element can take it: a menu or dialog still animating in covers its items
    for a moment (Chromium 156 reports the click intercepted where older builds waited)."""
    from selenium.common.exceptions import ElementClickInterceptedException

    def clicked() -> bool:
        try:
            element.click()
        except ElementClickInterceptedException:
            return False
        return True

    _wait(clicked, f"{what} to take a click", timeout=10)


def _press_test(driver: Any, conn_id: str) -> None:
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.XPATH, f"//tr[.//*[text()='{conn_id}']]")
    _click(row.find_element(By.CSS_SELECTOR, "button[aria-label='Test Connection']"), f"{conn_id}'s Test button")


def test_log_in_and_open_admin_connections(browser: Any, ui: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(ui["url"])
    _wait(lambda: "/auth/login" in browser.current_url, "the login page")
    _shot(browser, ui, "01-login")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(ui["password"])
    browser.find_element(By.XPATH, "//button[@type='submit']").click()
    _wait(lambda: "/auth/login" not in browser.current_url, "the login to finish")
    _click(browser.find_element(By.CSS_SELECTOR, "button[aria-label='Admin']"), "the Admin menu")
    _click(browser.find_element(By.XPATH, "//*[@role='menuitem'][contains(., 'Connections')]"), "Connections")
    _wait(lambda: browser.current_url.endswith("/connections"), "the connections page")
    assert browser.find_element(By.XPATH, "//*[text()='lp_saved_good']")
    _shot(browser, ui, "02-connections")


def test_add_a_longport_connection_through_the_form(browser: Any, ui: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _click(browser.find_element(By.XPATH, "//button[contains(., 'Add Connection')]"), "Add Connection")
    browser.find_element(By.NAME, "connection_id").send_keys("lp_form")
    kind = browser.find_element(By.CSS_SELECTOR, "[role=dialog] input[role=combobox]")
    kind.send_keys("LongPort")
    _wait(lambda: "LongPort OpenAPI" in browser.find_element(By.CSS_SELECTOR, "[role=dialog]").text, "the type")
    kind.send_keys(Keys.ENTER)
    dialog = _wait(lambda: browser.find_element(By.CSS_SELECTOR, "[role=dialog]"), "the form")
    _wait(lambda: "Base URL" in dialog.text, "our labels")
    for label in ("Base URL", "App key (OAuth: client id)", "App secret (empty for OAuth)"):
        assert label in dialog.text
    assert not dialog.find_elements(By.NAME, "port") and not dialog.find_elements(By.NAME, "schema")
    assert dialog.find_element(By.NAME, "password").get_attribute("type") == "password"
    dialog.find_element(By.NAME, "host").send_keys(ui["sandbox"].base_url)
    dialog.find_element(By.NAME, "login").send_keys(DEMO.app_key)
    dialog.find_element(By.NAME, "password").send_keys(DEMO.app_secret)
    _shot(browser, ui, "03-form-standard")
    # the form's sections open one at a time: the standard fields close as the extra fields open
    _click(
        dialog.find_element(By.XPATH, ".//button[contains(., 'Extra Fields') and not(contains(., 'JSON'))]"),
        "Extra Fields",
    )
    _wait(lambda: "Access token" in dialog.text, "the extra fields")
    for label in ("Access token", "Region", "OAuth refresh token", "Timeout (seconds)", "Max attempts per call"):
        assert label in dialog.text
    # Airflow >= 3.3 renders conn-fields' "format: password" as a password input; 3.0-3.2 as plain text.
    masked = "password" if AIRFLOW_VERSION >= (3, 3) else "text"
    for name in ("element_access_token", "element_refresh_token"):
        assert dialog.find_element(By.NAME, name).get_attribute("type") == masked, name
    assert dialog.find_element(By.NAME, "element_max_attempts").get_attribute("value") == "8"
    dialog.find_element(By.NAME, "element_access_token").send_keys(DEMO.access_token)
    _shot(browser, ui, "03-form-filled")
    _click(dialog.find_element(By.XPATH, ".//button[contains(., 'Save')]"), "Save")
    _wait(lambda: browser.find_elements(By.XPATH, "//tr[.//*[text()='lp_form']]"), "the saved connection")
    _shot(browser, ui, "04-saved")


def test_test_button_on_a_good_saved_connection(browser: Any, ui: dict[str, Any]) -> None:
    _press_test(browser, "lp_saved_good")
    text = _toast(browser, ui, "Test Connection Successful", "Connection successfully tested", "05-test-good")
    assert ui["sandbox"].base_url in text


def test_test_button_on_a_wrong_secret_shows_the_apis_own_error(browser: Any, ui: dict[str, Any]) -> None:
    _press_test(browser, "lp_saved_bad")
    text = _toast(browser, ui, "Test Connection Failed", "403201", "06-test-wrong-secret")
    assert "app secret" in text and "access token" not in text


def test_test_button_on_the_connection_the_form_saved(browser: Any, ui: dict[str, Any]) -> None:
    """The form saves no port and the list's Test sends port 0: Airflow >= 3.3 refuses before asking the provider
    (the README says to save port 0 or use ``airflow connections test``); older Airflow tests it truly."""
    _press_test(browser, "lp_form")
    if AIRFLOW_VERSION >= (3, 3):
        text = _toast(browser, ui, "Test Connection Failed", "Bad Request", "07-test-form-saved")
    else:
        text = _toast(browser, ui, "Test Connection Successful", "Connection successfully tested", "07-test-form-saved")
    assert "access token" not in text
