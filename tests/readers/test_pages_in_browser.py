"""The reader's pages in headless Chromium, as a reader uses them: change preferences
(by keyboard), pause, leave everything; sign up on the hosted page and confirm by the
button; read the archive. A screenshot of each page lands in tests/artifacts/."""

from __future__ import annotations

import pytest

from distributor.api import create_app
from tests.browser import ARTIFACTS, serving
from tests.peers import wait_for
from tests.readers.test_preference_centre import ALL_NEWS, manage_link, statuses
from tests.readers.test_signup import confirm_path

UNLABELLED = """return [...document.querySelectorAll('input:not([type=hidden]), select')]
    .filter(e => !e.closest('[aria-hidden=true]') && e.labels.length === 0)
    .map(e => e.name)"""


@pytest.fixture()
def served(newsroom, backend):
    if backend != "sqlite":
        pytest.skip("the pages are the same on every database: one browser run is enough")
    with serving(create_app(newsroom.settings, newsroom.db, newsroom.dispatcher)) as url:
        yield url


def local(served: str, link: str) -> str:
    return served + link.removeprefix("https://news.example.org")


def test_a_reader_manages_pauses_and_leaves_in_a_browser(newsroom, served, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    alice = newsroom.reader("alice")
    newsroom.publish("Monsoon arrives early", section="Weather")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(local(served, manage_link(newsroom.mailed(alice)[-1])))
    assert "Your subscription" in browser.title
    assert browser.execute_script(UNLABELLED) == []
    browser.save_screenshot(str(ARTIFACTS / "readers-manage.png"))

    daily = browser.find_element(By.CSS_SELECTOR, f"input[name='{ALL_NEWS}'][value='daily']")
    daily.send_keys(Keys.SPACE)  # a keyboard, no mouse
    assert daily.is_selected()
    browser.find_element(By.ID, "timezone").send_keys("Asia/Kolkata")
    browser.find_element(By.CSS_SELECTOR, "#preferences button[type=submit]").click()
    wait_for(lambda: "Saved." in browser.page_source, timeout=10, what="the saved notice")
    assert statuses(newsroom, alice) == {"breaking": "unsubscribed", "daily": "active"}

    browser.find_element(By.CSS_SELECTOR, "label[for='weeks-4']").click()
    browser.find_element(By.CSS_SELECTOR, "form.pause button").click()
    wait_for(lambda: "Paused until" in browser.page_source, timeout=10, what="the pause")
    browser.save_screenshot(str(ARTIFACTS / "readers-manage-paused.png"))

    browser.find_element(By.CSS_SELECTOR, "form.leave button").click()
    wait_for(lambda: "unsubscribed from every list" in browser.page_source, timeout=10,
             what="the goodbye")
    assert statuses(newsroom, alice) == {"breaking": "unsubscribed", "daily": "unsubscribed"}


def test_a_reader_signs_up_and_confirms_by_the_button_in_a_browser(newsroom, served, browser):
    from selenium.webdriver.common.by import By

    email = f"carol-{newsroom.tag}@example.com"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(served + "/lists/breaking/subscribe")
    assert browser.execute_script(UNLABELLED) == []
    assert not browser.find_element(By.NAME, "website").is_displayed()
    browser.save_screenshot(str(ARTIFACTS / "readers-signup.png"))
    browser.find_element(By.ID, "signup-email").send_keys(email)
    browser.find_element(By.ID, "signup-name").send_keys("Carol")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: "check your inbox" in browser.page_source, timeout=10, what="the answer")
    assert statuses(newsroom, email) == {"breaking": "unconfirmed"}

    newsroom.send_confirmations()
    browser.get(served + confirm_path(newsroom.mailed(email)[-1]))
    browser.save_screenshot(str(ARTIFACTS / "readers-confirm.png"))
    assert statuses(newsroom, email) == {"breaking": "unconfirmed"}
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    wait_for(lambda: "you are now subscribed" in browser.page_source, timeout=10,
             what="the confirmation")
    assert statuses(newsroom, email) == {"breaking": "active"}


def test_the_archive_and_an_edition_in_a_browser(newsroom, served, browser):
    from selenium.webdriver.common.by import By

    newsroom.publish("Rupee steadies", section="Business")
    send_id = newsroom.publish("Monsoon arrives early", section="Weather")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(served + "/archive/breaking")
    items = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "ol.editions li")]
    assert items[0].startswith("Monsoon arrives early") and len(items) == 2
    browser.save_screenshot(str(ARTIFACTS / "readers-archive.png"))
    browser.get(f"{served}/archive/breaking/{send_id}")
    assert "Monsoon arrives early" in browser.page_source
    browser.save_screenshot(str(ARTIFACTS / "readers-edition.png"))


def test_the_list_figures_in_a_browser(newsroom, served, browser):
    from selenium.webdriver.common.by import By

    from distributor.audience.lists import update_list
    from tests.conftest import API_TOKEN
    from tests.readers.test_tracking import tracked_paths

    update_list(newsroom.db, "breaking", tracking="aggregate")
    readers = [newsroom.reader(name) for name in ("alice", "bob", "carol")]
    newsroom.publish("Rupee steadies", section="Business")
    newsroom.publish("Monsoon arrives early", section="Weather")
    client = newsroom.client()
    for reader in readers:
        client.get(tracked_paths(newsroom.mailed(reader)[-1])[0])
    client.get(tracked_paths(newsroom.mailed(readers[0])[0])[0])
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(served + "/login")
    browser.find_element(By.NAME, "token").send_keys(API_TOKEN)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(lambda: "Dashboard" in browser.title, timeout=10, what="the dashboard")
    browser.get(served + "/dashboard/lists/breaking")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg[role=img]")) == 4
    top = browser.find_element(By.CSS_SELECTOR, "#top table").text
    assert "Monsoon arrives early 3" in top and "Rupee steadies 1" in top
    browser.save_screenshot(str(ARTIFACTS / "readers-list-figures.png"))
