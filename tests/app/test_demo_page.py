"""The demo page and /docs in a real headless Chromium, against real uvicorn servers.

Selenium drives Debian's chromium through Debian's chromedriver, both named by path so that
Selenium Manager never tries to download a browser or a driver. scripts/install_test_packages.sh
installs them (`make test` runs it); without them these tests are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from tests.app.exports import LANDMARK_NAMES
from tests.app.live_server import API_KEY, REPO_ROOT, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PHOTO = REPO_ROOT / "examples" / "photos" / "longsleeve_013.jpg"
WAIT_S = 60.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
        reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
        "run scripts/install_test_packages.sh as root",
    ),
]

# Headless, and nothing the browser would fetch on its own (updates, sync, safe browsing
# lists...): the only network traffic is what the page under test asks for.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1100",
]

T = TypeVar("T")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium for the module, with a fresh profile."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # The page's console (CSP violations and script errors land there).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    log_path = tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"
    driver = webdriver.Chrome(
        service=Service(executable_path=str(CHROMEDRIVER), log_output=str(log_path)),
        options=options,
    )
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], what: str) -> T:
    """Polls `condition` until it is truthy; fails with `what` and the page's state if not."""
    try:
        result: T = WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(condition)
    except TimeoutException:
        state = driver.execute_script("return document.body && document.body.dataset.state")
        status = driver.execute_script(
            "const s = document.getElementById('status'), e = document.getElementById('error');"
            "return [s && s.textContent, e && e.textContent];"
        )
        pytest.fail(f"timed out waiting for {what}; page state {state!r}, status/error {status}")
    return result


def open_demo(driver: WebDriver, server: LiveServer) -> None:
    """Loads the demo page with no stored key and waits for the model description."""
    driver.get(f"{server.base_url}/")
    driver.execute_script("sessionStorage.clear()")
    driver.refresh()
    wait_for(
        driver,
        lambda d: d.find_element(By.ID, "model-info").text.startswith("Model "),
        "the model description from GET /metadata",
    )


def page_state(driver: WebDriver) -> str:
    state: str = driver.execute_script("return document.body.dataset.state")
    return state


def wait_until_settled(driver: WebDriver) -> str:
    """Waits until the page has an answer (done), an error, or asks for a key."""
    wait_for(driver, lambda d: page_state(d) in {"done", "error", "key"}, "an answer")
    return page_state(driver)


def table_rows(driver: WebDriver) -> list[list[str]]:
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in driver.find_elements(By.CSS_SELECTOR, "#landmarks tbody tr")
    ]


def overlay_size(driver: WebDriver) -> tuple[int, int]:
    """The overlay <img>'s decoded size; (0, 0) until it has decoded."""
    size: list[int] = driver.execute_script(
        "const image = document.getElementById('overlay');"
        "return image.complete ? [image.naturalWidth, image.naturalHeight] : [0, 0];"
    )
    return size[0], size[1]


def resource_urls(driver: WebDriver) -> list[str]:
    """Every URL the page has loaded (scripts, styles, images, fetches), the page included."""
    urls: list[str] = driver.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)];"
    )
    return urls


def severe_console_messages(driver: WebDriver) -> list[str]:
    entries: list[dict[str, Any]] = driver.get_log("browser")
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]


def api_answer(server: LiveServer, data: bytes, filename: str, **headers: str) -> httpx.Response:
    with server.client() as http:
        return http.post(
            "/landmarks",
            params={"overlay": "false"},
            files={"image": (filename, data, "image/jpeg")},
            headers=headers,
        )


def test_uploaded_photo_shows_overlay_and_six_landmarks(
    browser: WebDriver, server: LiveServer, tmp_path: Path
) -> None:
    open_demo(browser, server)
    browser.find_element(By.ID, "file-input").send_keys(str(PHOTO))
    assert wait_until_settled(browser) == "done"

    rows = table_rows(browser)
    expected = api_answer(server, PHOTO.read_bytes(), PHOTO.name).json()["landmarks"]
    assert [row[0] for row in rows] == list(LANDMARK_NAMES)
    for row, landmark in zip(rows, expected, strict=True):
        x, y, probability = (float(text) for text in row[1:4])
        # Shown rounded: 1 decimal for coordinates, 3 for the probability.
        assert abs(x - landmark["x"]) <= 0.05 + 1e-9 and abs(y - landmark["y"]) <= 0.05 + 1e-9
        assert abs(probability - landmark["probability"]) <= 0.0005 + 1e-9
        assert row[4] == ("Yes" if landmark["detected"] else "No")
        assert len(row) == 5  # no candidates column without top_k
    assert not browser.find_element(By.CSS_SELECTOR, "th.candidates-col").is_displayed()

    # The overlay is at the upload's size, and it decoded.
    with Image.open(PHOTO) as photo:
        photo_size = photo.size
    wait_for(browser, lambda d: overlay_size(d) != (0, 0), "the overlay image to decode")
    assert overlay_size(browser) == photo_size
    overlay = browser.find_element(By.ID, "overlay")
    assert (overlay.get_attribute("alt") or "").startswith("The photo with the 6 landmarks marked")
    assert (overlay.get_attribute("src") or "").startswith("data:image/png;base64,")

    screenshot = tmp_path / "demo_page.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(screenshot) as shot:
        assert shot.width >= 800 and shot.height >= 600
        # Not a blank page: the overlay and the styles put many colours on screen.
        assert len(shot.convert("RGB").getcolors(maxcolors=1 << 24) or []) > 1000

    origin = server.base_url
    assert all(url.startswith(f"{origin}/") for url in resource_urls(browser))
    # CSP violations and script errors would be logged as SEVERE.
    assert severe_console_messages(browser) == []


def test_page_asks_for_the_api_key_then_succeeds(
    browser: WebDriver, keyed_server: LiveServer
) -> None:
    open_demo(browser, keyed_server)  # the page itself loads without the key
    browser.find_element(By.ID, "file-input").send_keys(str(PHOTO))
    assert wait_until_settled(browser) == "key"

    key_form = browser.find_element(By.ID, "key-form")
    assert key_form.is_displayed()
    missing = api_answer(keyed_server, PHOTO.read_bytes(), PHOTO.name).json()["detail"]
    assert missing in browser.find_element(By.ID, "key-reason").text
    key_input = browser.find_element(By.ID, "api-key")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=api-key]").text == "API key"
    assert browser.switch_to.active_element == key_input

    # A wrong key: the service's own detail is shown and the page asks again.
    key_input.send_keys("not-the-key", Keys.ENTER)
    wait_for(
        browser,
        lambda d: "invalid API key" in d.find_element(By.ID, "key-reason").text,
        "the invalid-key detail",
    )
    assert page_state(browser) == "key"

    browser.find_element(By.ID, "api-key").send_keys(API_KEY)
    browser.find_element(By.ID, "key-submit").click()
    assert wait_until_settled(browser) == "done"
    assert [row[0] for row in table_rows(browser)] == list(LANDMARK_NAMES)
    assert not key_form.is_displayed()
    assert (
        browser.execute_script("return sessionStorage.getItem('garment-landmarks.api-key')")
        == API_KEY
    )

    # Options re-send the same photo, with the stored key: candidates and a JPEG overlay.
    top_k = browser.find_element(By.ID, "top-k")
    assert int(top_k.get_attribute("max") or 0) > 0  # from GET /metadata
    top_k.send_keys(Keys.CONTROL, "a")
    top_k.send_keys("2", Keys.TAB)
    browser.find_element(By.CSS_SELECTOR, "input[name=overlay_format][value=jpeg]").click()
    wait_for(
        browser,
        lambda d: (
            page_state(d) == "done"
            and "JPEG" in d.find_element(By.ID, "overlay-caption").text
            and d.find_element(By.CSS_SELECTOR, "th.candidates-col").is_displayed()
        ),
        "the answer with candidates and a JPEG overlay",
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "#landmarks tbody tr")
    assert len(rows) == 6
    for row in rows:
        candidates = row.find_elements(By.CSS_SELECTOR, "ul.candidates li")
        assert 1 <= len(candidates) <= 2
    src = browser.find_element(By.ID, "overlay").get_attribute("src") or ""
    assert src.startswith("data:image/jpeg;base64,")
    wait_for(browser, lambda d: overlay_size(d) != (0, 0), "the JPEG overlay to decode")


def test_a_file_that_is_no_image_shows_the_services_detail(
    browser: WebDriver, server: LiveServer, tmp_path: Path
) -> None:
    fake = tmp_path / "not_a_photo.jpg"
    fake.write_text("these are shopping notes, not a JPEG\n", encoding="utf-8")
    expected = api_answer(server, fake.read_bytes(), fake.name)
    assert expected.status_code == 415

    open_demo(browser, server)
    browser.find_element(By.ID, "file-input").send_keys(str(fake))
    assert wait_until_settled(browser) == "error"
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed() and error.get_attribute("role") == "alert"
    assert error.text == expected.json()["detail"]


# Each page's text where it lists the operations: Swagger UI as "METHOD /path" blocks, ReDoc
# by their summaries.
LISTED_OPERATIONS = {
    "/docs": (
        "return [...document.querySelectorAll('.opblock-summary')].map(s => "
        "s.querySelector('.opblock-summary-method').textContent + ' ' + "
        "s.querySelector('.opblock-summary-path').textContent.replace(/\\u200b/g, ''));",
        ["POST /landmarks", "POST /landmarks/batch", "GET /metadata"],
    ),
    "/redoc": (
        "return [document.body.innerText];",
        ["Find the six garment landmarks in one image", "Prometheus metrics"],
    ),
}
# ReDoc's bundle always shows a Redocly logo from its CDN. The page's Content-Security-Policy
# (app/routes/docs.py) makes the browser refuse it before any request; Chromium still lists the
# attempt among the page's resources (0 bytes, status 0) and logs the refusal.
CSP_REFUSAL = "violates the following Content Security Policy directive"


@pytest.mark.parametrize("path", sorted(LISTED_OPERATIONS))
def test_api_docs_render_without_leaving_the_service(
    browser: WebDriver, server: LiveServer, path: str
) -> None:
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(f"{server.base_url}{path}")
    script, expected = LISTED_OPERATIONS[path]

    def listed(driver: WebDriver) -> bool:
        texts = " | ".join(driver.execute_script(script))
        return all(item in texts for item in expected)

    wait_for(browser, listed, f"{path} to list the operations {expected}")
    origin = server.base_url
    console = severe_console_messages(browser)
    refusals = [message for message in console if CSP_REFUSAL in message]
    off_host = [url for url in resource_urls(browser) if not url.startswith(f"{origin}/")]
    # Every load from elsewhere was refused by the browser, so none went off the machine.
    assert [url for url in off_host if not any(f"'{url}'" in m for m in refusals)] == []
    assert len(refusals) == len(off_host) <= (1 if path == "/redoc" else 0)
    assert [message for message in console if CSP_REFUSAL not in message] == []
