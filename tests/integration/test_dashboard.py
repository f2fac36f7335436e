"""The dashboard end to end in headless Chromium: the page loads, goes live, shows a user's score,
and the score changes on screen when new events are produced (no reload)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import eventually
from tests.integration.conftest import ROOT, Published, WorkerProc, send_events

T0 = 1_767_225_600_000


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "make test installs chromium and chromium-driver (make system-deps)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,1000")
    b = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield b
    finally:
        b.quit()


async def wait_in(
    browser: WebDriver, condition: Callable[[WebDriver], Any], timeout: float, what: str
) -> Any:
    """Selenium's deadline-bound wait, off the event loop (the score reader keeps running)."""

    def run() -> Any:
        return WebDriverWait(browser, timeout, poll_frequency=0.2).until(condition, f"waiting for {what}")

    return await asyncio.to_thread(run)


def text_of(css: str) -> Callable[[WebDriver], str]:
    return lambda b: b.find_element(By.CSS_SELECTOR, css).text


def status_class(b: WebDriver) -> str | None:
    return b.find_element(By.ID, "status").get_attribute("class")


def likes(star: str, n: int, start: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"dash-{uuid.uuid4().hex}",
            "type": "retweet",
            "network": "twitter",
            "actor_id": f"dash-fan-{uuid.uuid4().hex[:6]}",
            "target_id": star,
            "ts": T0 + (start + i) * 1000,
        }
        for i in range(n)
    ]


async def test_dashboard_shows_a_live_score(
    browser: WebDriver, worker: WorkerProc, published: Published, producer: AIOKafkaProducer
) -> None:
    star = f"dash-star-{uuid.uuid4().hex[:6]}"
    topic = worker.settings.topic("interactions")
    await send_events(producer, topic, likes(star, 3, 0))
    await eventually(lambda: published.for_user(star), 30, f"a score for {star}")

    def latest(user: str) -> float:
        return float(published.for_user(user)[-1]["score"])

    await asyncio.to_thread(browser.get, worker.url + "/")
    await wait_in(browser, lambda b: "live" in (status_class(b) or ""), 30, "the live feed connected")
    await wait_in(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#board tr[data-user]"), 30, "rows")

    def show(b: WebDriver) -> None:
        box = b.find_element(By.ID, "search")
        box.clear()
        box.send_keys(star)
        b.find_element(By.CSS_SELECTOR, "#search-form button").click()

    await asyncio.to_thread(show, browser)

    def showing(expected: float) -> Callable[[WebDriver], bool]:
        return lambda b: text_of("#user-score")(b) == f"{expected:.2f}"

    await wait_in(browser, lambda b: showing(latest(star))(b), 30, "the user's score")
    assert browser.find_element(By.ID, "user-id").text == star
    await wait_in(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#history-chart"), 30, "history chart")
    engagers = browser.find_element(By.ID, "engagers").text
    assert "dash-fan-" in engagers

    # more fans: the page updates by itself from the live feed
    before = published.for_user(star)[-1]["score"]
    await send_events(producer, topic, likes(star, 12, 100))
    await eventually(
        lambda: published.for_user(star)[-1]["score"] > before + 1, 30, "the score to rise on `scores`"
    )
    await wait_in(browser, lambda b: showing(latest(star))(b), 30, "the new score on screen")
    ticker = browser.find_element(By.ID, "ticker").text
    assert star in ticker

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(artifacts / "dashboard.png"))
