"""The dashboard in a real headless browser (Debian's chromium through selenium), against a real server.

Logs in with a real account's user name and password through the login form, reads the numbers of
a known data set off the overview, sees the silent terminal stand out on the
fleet page, checks the alerts on demand, and takes a screenshot of each page
on a desktop and a phone-sized window into ``tests/output/dashboard/``.

Outside CI a missing chromium or chromedriver skips these tests (saying so);
under ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dashboard_fixtures import SITE_A, SITE_B, load_known_data_set
from server_fixtures import *  # noqa: F403

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).parent / "output" / "dashboard"
DESKTOP = (1366, 900)
PHONE = (390, 844)  # a common phone's CSS pixels


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) and os.access(path, os.X_OK)):
            return f"{path} not found (Debian: apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    why = _missing_browser()
    if why:
        if in_ci():
            pytest.fail(f"the browser tests must run under CI=true: {why}", pytrace=False)
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to see Content-Security-Policy refusals
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=vi"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def dash(start_server, browser):
    clock = FakeClock()
    server = start_server(clock=clock, alert_check_interval_s=0)
    server.clock = clock
    browser.delete_all_cookies()
    browser.set_window_size(*DESKTOP)
    return server


def wait_for_url(browser, url: str, *, prefix: bool = False) -> None:
    """Wait for a navigation (a click on a submit button returns before the next page is there)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda b: b.current_url.startswith(url) if prefix else b.current_url == url,
                                     f"the browser stayed on {browser.current_url}, not {url}")


def log_in(browser, server, person) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    assert browser.current_url == server.url + "/login"  # no session: the login page
    browser.find_element(By.ID, "username").send_keys(person.username)
    browser.find_element(By.ID, "password").send_keys(person.password)
    browser.find_element(By.ID, "login-button").click()
    wait_for_url(browser, server.url + "/")
    assert browser.find_element(By.CSS_SELECTOR, ".who").text == "test.admin"


def shoot(browser, name: str, backend: str) -> None:
    """``<name>-desktop.png`` and ``<name>-phone.png`` of the page as it is (SQLite runs only: one set)."""
    if backend != "sqlite":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        browser.set_window_size(width, height)
        # The whole page, not just the first screenful.
        full = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(max(height, full + 140), 6000))
        assert browser.save_screenshot(str(SCREENSHOTS / f"{name}-{label}.png"))
    browser.set_window_size(*DESKTOP)


def backend_of(request) -> str:
    return request.node.callspec.params["server_db_url"]


def test_login_page_and_a_wrong_password(dash, browser, request):
    from selenium.webdriver.common.by import By

    person = dash.person()
    browser.get(dash.url + "/fleet")
    assert browser.current_url.startswith(dash.url + "/login")
    browser.find_element(By.ID, "username").send_keys(person.username)
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login-button").click()
    wait_for_url(browser, dash.url + "/login")
    assert browser.find_element(By.ID, "login-error").text == "⚠ Tên đăng nhập hoặc mật khẩu không đúng."
    assert browser.find_element(By.ID, "username").get_attribute("value") == person.username  # kept
    shoot(browser, "login", backend_of(request))
    browser.find_element(By.ID, "password").send_keys(person.password)
    browser.find_element(By.ID, "login-button").click()
    wait_for_url(browser, dash.url + "/fleet")  # where it was going


def test_overview_shows_the_numbers_of_the_known_data_set(dash, browser, request):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    load_known_data_set(dash, dash.clock)
    log_in(browser, dash, dash.person())
    assert browser.find_element(By.ID, "period-label").text == "Tháng 11/2026"

    def level(key):
        row = browser.find_element(By.ID, f"level-{key}")
        return row.find_element(By.CLASS_NAME, "count").text, row.find_element(By.CLASS_NAME, "pct").text

    assert level("very_satisfied") == ("27", "67,5%")
    assert level("satisfied") == ("10", "25,0%")
    assert level("dissatisfied") == ("3", "7,5%")
    assert level("total") == ("40", "100%")
    assert browser.find_element(By.ID, "satisfaction-rate").text == "92,5%"
    assert browser.find_element(By.ID, "filtered").text == "1"
    assert browser.find_element(By.CSS_SELECTOR, "#levels h2").text == "Ba mức đánh giá (n=40)"
    assert browser.find_element(By.ID, "summary").text.startswith(
        "Trong kỳ (Tháng 11/2026), bộ phận Một cửa của 2 đơn vị nhận được 40 lượt đánh giá")
    assert browser.find_element(By.ID, "reason-processing_time").text.endswith("1")
    assert browser.find_element(By.ID, "reason-no_reason").text.endswith("1")
    rows = browser.find_elements(By.CSS_SELECTOR, "#groups tbody tr")
    groups = [row.text for row in rows]
    assert groups[0].startswith(f"1 {SITE_A} 36") and groups[1].startswith(f"2 {SITE_B} 4")
    notes = [row.find_element(By.CSS_SELECTOR, 'td[data-label="Ghi chú"]').text for row in rows]
    assert "quá ít để so sánh" in notes[1] and "quá ít" not in notes[0]
    # October had no ratings: against it, every line is too few to compare.
    changes = [row.find_element(By.CSS_SELECTOR, 'td[data-label="So với kỳ trước"]').text for row in rows]
    assert changes == ["quá ít để so sánh · n trước=0"] * 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 4
    # The heat map has Wednesday's busy hours (local time) in it, and nothing else.
    titles = [t.get_attribute("textContent") for t in browser.find_elements(By.CSS_SELECTOR, "svg.heatmap title")]
    assert {"T4 07:00–07:59: 4 lượt, 1 không hài lòng", "T4 09:00–09:59: 24 lượt",
            "T4 10:00–10:59: 12 lượt, 2 không hài lòng"} <= set(titles)
    assert sum(t.endswith(": 0 lượt") for t in titles) == 7 * 24 - 3
    assert browser.find_element(By.ID, "reconcile").text.startswith("Kiểm tra: các số cộng lại khớp với tổng")
    shoot(browser, "overview", backend_of(request))

    # The filter form: one site, a quarter.
    Select(browser.find_element(By.ID, "period")).select_by_value("quarter")
    Select(browser.find_element(By.ID, "site")).select_by_value(SITE_B)
    browser.find_element(By.CSS_SELECTOR, "#filters button").click()
    wait_for_url(browser, dash.url + "/?period=quarter", prefix=True)
    assert browser.find_element(By.ID, "period-label").text == f"Quý IV/2026 — {SITE_B}"
    assert level("total") == ("4", "100%")
    assert "site=" in browser.find_element(By.ID, "export-csv").get_attribute("href")


def test_fleet_page_makes_the_silent_terminal_stand_out(dash, browser, request):
    from selenium.webdriver.common.by import By

    a, b = load_known_data_set(dash, dash.clock)
    log_in(browser, dash, dash.person())
    browser.find_element(By.LINK_TEXT, "Thiết bị").click()
    wait_for_url(browser, dash.url + "/fleet")
    silent = browser.find_element(By.ID, f"terminal-{b.id}")
    fine = browser.find_element(By.ID, f"terminal-{a.id}")
    assert "silent" in silent.get_attribute("class").split() and "silent" not in fine.get_attribute("class")
    assert "⚠ Im lặng quá 2 giờ" in silent.text and "✓ Bình thường" in fine.text
    # It looks different, not only in its words: a tinted background.
    assert silent.find_element(By.TAG_NAME, "td").value_of_css_property("background-color") != \
        fine.find_element(By.TAG_NAME, "td").value_of_css_property("background-color")
    assert browser.find_element(By.ID, "fleet-summary").text == "2 thiết bị; ⚠ 1 thiết bị im lặng quá lâu."
    shoot(browser, "fleet", backend_of(request))


def test_alerts_page_checks_now_and_lists_the_alert(dash, browser, request):
    from selenium.webdriver.common.by import By

    a, b = load_known_data_set(dash, dash.clock)
    log_in(browser, dash, dash.person())
    browser.find_element(By.LINK_TEXT, "Cảnh báo").click()
    wait_for_url(browser, dash.url + "/alerts")
    assert "Không có cảnh báo nào" in browser.find_element(By.ID, "active-alerts").text
    browser.find_element(By.ID, "check-now").click()
    wait_for_url(browser, dash.url + "/alerts?checked", prefix=True)
    assert browser.find_element(By.ID, "checked").text == "Đã kiểm tra (mới: 1, đã hết: 0)."
    (item,) = browser.find_elements(By.CSS_SELECTOR, "#active-alerts li")
    assert "Thiết bị im lặng" in item.text and b.id in item.text and "từ 25/11/2026 10:30" in item.text
    assert "(lần cuối: 25/11/2026 08:00)" in item.text
    shoot(browser, "alerts", backend_of(request))
    browser.find_element(By.CSS_SELECTOR, ".logout button").click()
    wait_for_url(browser, dash.url + "/login")
    browser.get(dash.url + "/alerts")
    assert browser.current_url.startswith(dash.url + "/login")


@pytest.mark.parametrize("kind", ["day", "week", "month", "quarter", "half", "year"])
def test_the_trend_chart_is_a_sensible_height_for_every_period(dash, browser, kind):
    from selenium.webdriver.common.by import By

    load_known_data_set(dash, dash.clock)
    log_in(browser, dash, dash.person())
    for width, height in (DESKTOP, PHONE):
        browser.set_window_size(width, height)
        browser.get(f"{dash.url}/?period={kind}")
        trend = browser.find_element(By.CSS_SELECTOR, "svg.trend")
        shown = trend.size
        assert 100 <= shown["height"] <= 400, (kind, width, shown)
        assert shown["width"] >= 2 * shown["height"], (kind, width, shown)
    browser.set_window_size(*DESKTOP)


def test_the_api_docs_render_with_nothing_from_outside(dash, browser, request):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(dash.url + "/docs")
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock"),
                                     "Swagger UI drew no operation on /docs")
    paths = {element.get_attribute("data-path") for element in
             browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/v1/batches", "/api/v1/enroll", "/api/v1/ratings"} <= paths
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in loaded)
    assert [url for url in loaded if not url.startswith(dash.url + "/")] == []
    if backend_of(request) == "sqlite":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(SCREENSHOTS / "api-docs-desktop.png"))


def csp_refusals(browser) -> list[str]:
    """What the Content-Security-Policy blocked since the last call (Chromium logs each refusal)."""
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_the_dashboard_runs_under_its_policy_with_nothing_refused(dash, browser):
    load_known_data_set(dash, dash.clock)
    browser.get(dash.url + "/login")
    csp_refusals(browser)
    log_in(browser, dash, dash.person())
    for path in ("/", "/fleet", "/alerts", "/?period=year&group_by=counter", "/account", "/account/totp", "/accounts",
                 "/settings"):
        browser.get(dash.url + path)
    assert csp_refusals(browser) == []


def test_redoc_renders_under_its_policy(dash, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(dash.url + "/docs")
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock"),
                                     "Swagger UI drew no operation on /docs")
    assert csp_refusals(browser) == []
    browser.get(dash.url + "/redoc")
    WebDriverWait(browser, 30).until(lambda b: "/api/v1/batches" in b.find_element(By.TAG_NAME, "body").text,
                                     "ReDoc drew no operation on /redoc")
    # Nothing refused (ReDoc's "powered by" logo used to come from cdn.redoc.ly), nothing from another site.
    assert csp_refusals(browser) == []
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith("/docs/assets/redoc.standalone.js") for url in loaded)
    assert [url for url in loaded if not url.startswith(dash.url + "/")] == []
    assert "cdn.redoc.ly" not in browser.page_source


def test_the_tree_is_checked_and_imported_and_a_terminal_moved_in_the_browser(dash, browser, request, tmp_path):
    """The organisation tree page (upload, dry run, import), the fleet with where each terminal stands, and a
    terminal's page moving it: the forms as a person uses them, with nothing refused by the page's policy."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from test_tree_api import TREE_CSV, post_tree

    path = tmp_path / "co-cau-to-chuc.csv"
    path.write_text(TREE_CSV, encoding="utf-8")
    browser.get(dash.url + "/login")
    log_in(browser, dash, dash.person())
    browser.get(dash.url + "/tree")
    browser.find_element(By.CSS_SELECTOR, "#import-form input[type=file]").send_keys(str(path))
    browser.find_element(By.CSS_SELECTOR, "#import-form button[value=check]").click()
    wait_for_url(browser, dash.url + "/tree/import")
    assert "chưa có gì thay đổi" in browser.find_element(By.ID, "import-result").text
    assert dash.count("nodes") == 0
    browser.find_element(By.CSS_SELECTOR, "#import-form input[type=file]").send_keys(str(path))
    browser.find_element(By.CSS_SELECTOR, "#import-form button[value=import]").click()
    # The same address as the dry run's page: wait for the new page's answer, not the old one's.
    WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda b: "Đã nhập" in b.find_element(By.ID, "import-result").text, "the import's answer did not come")
    assert dash.count("nodes") == 8

    admin = dash.admin_headers()
    assert post_tree(dash, TREE_CSV, admin).status_code == 200
    codes = dash.post("/api/v1/enrollment-codes", json={"node": "BD-Q1", "count": 3}, headers=admin).json()["codes"]
    ids = [dash.post("/api/v1/enroll", json={"code": code}).json()["terminal_id"] for code in codes]
    browser.get(dash.url + "/tree")
    assert [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#tree td.num")][:2] == ["3", "3"]
    shoot(browser, "tree", backend_of(request))

    browser.get(dash.url + f"/fleet/terminal/{ids[0]}")
    Select(browser.find_element(By.CSS_SELECTOR, "#move-form select")).select_by_visible_text(
        "Thành phố Hà Nội › Phường Ngọc Hà › Bộ phận Một cửa phường Ngọc Hà › Quầy 1")
    browser.find_element(By.CSS_SELECTOR, "#move-form button").click()
    wait_for_url(browser, dash.url + f"/fleet/terminal/{ids[0]}?done=moved")
    assert "Phường Ngọc Hà" in browser.find_element(By.ID, "where").text
    shoot(browser, "terminal", backend_of(request))
    browser.get(dash.url + "/fleet")
    shoot(browser, "fleet-tree", backend_of(request))
    # The node picker lists the level below the current node: the province first, then its unit.
    for name in ("Thành phố Hà Nội", "Phường Ngọc Hà"):
        picker = Select(browser.find_element(By.CSS_SELECTOR, "#fleet-filter select"))
        picker.select_by_value(next(option.get_attribute("value") for option in picker.options
                                    if option.text.strip() == name))
        browser.find_element(By.CSS_SELECTOR, "#fleet-filter button").click()
        WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
            lambda b, name=name: b.find_element(By.CSS_SELECTOR, "#picker-path strong").text == name,
            f"the fleet page did not open {name}")
    assert browser.current_url.startswith(dash.url + "/fleet?node=")
    assert [row.get_attribute("id") for row in browser.find_elements(By.CSS_SELECTOR, "table.fleet tbody tr")] \
        == [f"terminal-{ids[0]}"]
    assert csp_refusals(browser) == []
