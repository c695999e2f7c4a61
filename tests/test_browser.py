"""The sandbox page in a real browser: Debian's Chromium driven by Playwright against a real
`Sandbox` (emulated Google Cloud and Slack, the production bot server in a child process).

Never downloads a browser. Without /usr/bin/chromium, its colour emoji font or the playwright
package the tests skip with the reason, except under CI=true, where they fail. Screenshots go
to artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient

from bot.dev import emoji_table
from bot.dev.sandbox import Sandbox
from tests.support.stack import running_sandbox

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # require_browser() says what is missing (skip, or fail under CI)
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, ViewportSize

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")  # fonts-noto-color-emoji
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
WAIT_MS = 15_000  # per expectation; each normally settles within a second
PROD_BACKEND = '[data-service="fluxori-prod/fluxori-backend"]'
# A :shortcode: left as text (one letter at least, so a clock's "10:30:45" is not one).
SHORTCODE_TEXT = re.compile(r":[a-z0-9_+-]*[a-z][a-z0-9_+-]*:")


def require_browser() -> None:
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    if not EMOJI_FONT.is_file():
        missing.append(f"{EMOJI_FONT} (apt-get install -y fonts-noto-color-emoji)")
    if not HAVE_PLAYWRIGHT:
        missing.append("the playwright package (.venv/bin/pip install playwright)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class Browser:
    page: Page
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.mouse.move(0, 0)  # no hover highlight in the picture
        self.page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    require_browser()
    with running_sandbox() as box:
        yield box


@pytest.fixture
def browser(sandbox: Sandbox, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The page open in Chromium, in Tokyo's time zone (dates must follow the browser's)."""
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport=VIEWPORT, timezone_id="Asia/Tokyo", locale="en-US")
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        opened = Browser(page)
        page.on("pageerror", lambda err: opened.errors.append(f"page error: {err}"))
        page.on(
            "console",
            lambda msg: (
                opened.errors.append(f"console: {msg.text}") if msg.type == "error" else None
            ),
        )
        page.goto(sandbox.slack.url)
        try:
            yield opened
        finally:
            opened.shot(f"{request.node.name}-end")
            context.close()
            chromium.close()


# -- helpers: what a person looks at


def message(scope: Page | Locator, text: str) -> Locator:
    return scope.locator(".message").filter(has_text=text)


def run_command(page: Page, text: str) -> None:
    composer = page.get_by_label("Message #fluxori-ops")
    composer.fill(text)
    composer.press("Enter")


def act_as(page: Page, name: str) -> None:
    chip = page.get_by_role("radio", name=name)
    chip.click()
    expect(chip).to_have_attribute("aria-checked", "true")


def confirm_in_dialog(page: Page, button: Locator, title: str, accept: str) -> None:
    """Click a button that has a confirm dialog, check the dialog, and accept it."""
    button.click()
    dialog = page.get_by_role("alertdialog", name=title)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=accept).click()
    expect(dialog).to_be_hidden()


def prod_backend_traffic(page: Page) -> Locator:
    return page.locator(PROD_BACKEND).get_by_test_id("traffic")


def plan_target(card: Locator) -> str:
    header = card.locator(".block-header").first.inner_text()
    found = re.search(r"to (fluxori-backend-\S+)", header)
    assert found, header
    return found.group(1)


def visible_shortcodes(page: Page) -> list[str]:
    return SHORTCODE_TEXT.findall(page.locator("body").inner_text())


def escaped(text: str) -> str:
    """Text as mrkdwn shows it literally: Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tokyo_clock(epoch: int) -> str:
    """Slack's {time} for `epoch` in the browser's zone (Tokyo: never UTC's by accident)."""
    local = datetime.fromtimestamp(epoch, ZoneInfo("Asia/Tokyo"))
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


# -- the flows


def test_rollback_needs_a_second_person_and_moves_traffic(browser: Browser) -> None:
    """Alice's prod rollback: verbs listed as typed; her own Confirm is refused; Bob's works."""
    page = browser.page
    before = prod_backend_traffic(page)
    expect(before).to_contain_text("100%")
    serving_before = before.inner_text()

    composer = page.get_by_label("Message #fluxori-ops")
    composer.fill("/ops r")
    verbs = page.get_by_role("listbox", name="Commands").get_by_role("option")
    expect(verbs).to_have_count(5)
    expect(verbs.locator(".name")).to_have_text(
        ["revisions", "rollback", "roll-forward", "rotate-secret", "restore"]
    )
    browser.shot("1-verbs")

    act_as(page, "Alice")
    run_command(page, "/ops rollback fluxori-backend --env prod")
    card = message(page.locator("#messages"), "Plan: Roll back fluxori-backend")
    expect(card).to_contain_text("requested by @alice")
    target = plan_target(card)

    confirm = card.get_by_role("button", name="Confirm")
    confirm_in_dialog(page, confirm, "Change production?", "Yes, do it")
    refusal = message(page.locator("#messages"), "Only visible to you")
    expect(refusal).to_contain_text("needs a second person")
    browser.shot("2-alice-refused")

    act_as(page, "Bob")
    expect(refusal).to_have_count(0)  # Alice's ephemeral is hers alone
    confirm_in_dialog(page, confirm, "Change production?", "Yes, do it")
    expect(card).to_contain_text("Done: approved by @bob")
    card.locator(".replies-link").click()
    thread = page.locator("#thread")
    expect(thread).to_contain_text(f"Traffic of fluxori-backend now: {target} 100%")
    expect(prod_backend_traffic(page)).to_have_text(f"{target} 100%")
    assert serving_before != f"{target} 100%"
    browser.shot("3-rolled-back")

    page.get_by_role("button", name="Close thread").click()
    expect(thread).to_be_hidden()
    page.get_by_role("button", name="Fluxori Ops").click()
    home = page.locator("#home")
    expect(home).to_contain_text("Recent actions")
    expect(home).to_contain_text("approved by @bob")
    home.get_by_role("link", name="thread").first.click()  # the plan card's permalink
    expect(page.locator("#channel-view")).to_be_visible()
    expect(thread).to_be_visible()
    expect(thread).to_contain_text("Plan: Roll back fluxori-backend")
    assert visible_shortcodes(page) == []
    assert browser.errors == []


def test_alert_buttons_show_errors_and_plan_a_rollback(browser: Browser) -> None:
    """A fired alert's card: it starts now, shown in the browser's zone; Show errors and Roll back."""
    page = browser.page
    page.get_by_role("button", name="High error rate open").click()
    expect(page.get_by_role("status").filter(has_text="high-error-rate-open")).to_contain_text(
        "answered 200"
    )
    alert = message(page.locator("#messages"), "Critical: fluxori-backend high 5xx rate")
    started = alert.locator(".slack-date").first
    epoch = int(started.get_attribute("data-epoch") or 0)
    expect(started).to_have_text(re.compile(rf"^(today|yesterday) {tokyo_clock(epoch)}$"))

    act_as(page, "Bob")
    alert.get_by_role("button", name="Show errors").click()
    expect(alert.locator(".replies-link")).to_contain_text("1 reply")
    alert.get_by_role("button", name="Roll back").click()
    expect(alert.locator(".replies-link")).to_contain_text("2 replies")
    alert.locator(".replies-link").click()
    thread = page.locator("#thread")
    expect(thread).to_contain_text("Errors in fluxori-backend")
    plan = message(thread, "Plan: Roll back fluxori-backend")
    expect(plan).to_contain_text("requested by @bob")
    target = plan_target(plan)

    act_as(page, "Alice")
    confirm_in_dialog(
        page, plan.get_by_role("button", name="Confirm"), "Change production?", "Yes, do it"
    )
    expect(thread).to_contain_text(f"Traffic of fluxori-backend now: {target} 100%")
    expect(prod_backend_traffic(page)).to_have_text(f"{target} 100%")
    assert visible_shortcodes(page) == []
    browser.shot("sandbox")  # the README's docs/sandbox.png is a copy of this one
    assert browser.errors == []


def test_scale_form_shows_field_errors_then_plans(browser: Browser) -> None:
    """The scale modal: 64Gi is refused beside the field; 2Gi plans; confirmed, Cloud Run has it."""
    page = browser.page
    act_as(page, "Carol")
    run_command(page, "/ops scale fluxori-backend")
    modal = page.get_by_role("dialog", name="Scale service")
    memory = modal.get_by_label("Memory")
    expect(memory).to_have_value("1Gi")

    memory.fill("64Gi")
    modal.get_by_role("button", name="Preview plan").click()
    error = modal.locator('.input-block[data-block-id="memory"] .field-error')
    expect(error).to_contain_text("64Gi")
    expect(memory).to_have_value("64Gi")  # what was typed stays while the error shows
    browser.shot("4-field-error")

    memory.fill("2Gi")
    modal.get_by_label("Concurrency").fill("40")
    modal.get_by_role("button", name="Preview plan").click()
    expect(modal).to_be_hidden()
    card = message(page.locator("#messages"), "Plan: Scale fluxori-backend")
    expect(card).to_contain_text("requested by @carol")
    expect(card).to_contain_text("Memory: 1Gi → 2Gi")
    expect(card).to_contain_text("Concurrency: 80 → 40")
    browser.shot("5-scale-plan")

    act_as(page, "Alice")
    confirm_in_dialog(
        page, card.get_by_role("button", name="Confirm"), "Change production?", "Yes, do it"
    )
    expect(card).to_contain_text("Done: approved by @alice")
    scaling = page.locator(PROD_BACKEND).get_by_test_id("scaling")
    expect(scaling).to_contain_text("2Gi · 1 CPU · 40 per instance")
    browser.shot("6-scaled")
    assert visible_shortcodes(page) == []
    assert browser.errors == []


def test_a_typed_mention_filters_history_by_that_person(browser: Browser) -> None:
    """`--user @alice` typed in the composer reaches the bot as Slack escapes it: Alice's actions."""
    page = browser.page
    channel = page.locator("#messages")
    act_as(page, "Bob")
    run_command(page, "/ops rollback fluxori-frontend --env dev")
    expect(message(channel, "Plan: Roll back fluxori-frontend")).to_contain_text("by @bob")
    act_as(page, "Alice")
    run_command(page, "/ops rollback fluxori-backend --env dev")
    expect(message(channel, "Plan: Roll back fluxori-backend")).to_contain_text("by @alice")

    run_command(page, "/ops history --user @alice")
    answer = message(channel, "ran /ops history --user <@U_ALICE|alice>")
    expect(answer).to_contain_text("rollback fluxori-backend · dev · pending")
    expect(answer).to_contain_text("by @alice")
    expect(answer).not_to_contain_text("by @bob")
    browser.shot("7-history-by-mention")
    assert visible_shortcodes(page) == []
    assert browser.errors == []


def test_dates_and_emoji_render_where_slack_renders_them(
    sandbox: Sandbox, browser: Browser
) -> None:
    """<!date^…> in a section, its fields, context and an ephemeral; each bot shortcode an emoji."""
    page = browser.page
    act_as(page, "Alice")
    slack = WebClient(token=sandbox.slack.webapi.bot_token, base_url=sandbox.slack.api_url)
    epoch = 1795985918
    date = f"<!date^{epoch}^{{time}}|20:58 UTC>"
    written = sorted(emoji_table.shortcodes_written(emoji_table.bot_sources()))
    shortcodes = " ".join(f":{name}:" for name in written)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"Section at {date} {shortcodes}"},
            "fields": [{"type": "mrkdwn", "text": f"*Field* at {date}"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Context at {date}"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Escaped {escaped(date)}"}},
    ]
    slack.chat_postMessage(channel="C_OPS", text="Section at 20:58 UTC", blocks=blocks)
    slack.chat_postEphemeral(channel="C_OPS", user="U_ALICE", text=f"Ephemeral at {date}")

    clock = tokyo_clock(epoch)
    card = message(page.locator("#messages"), "Section at")
    expect(card.locator(".block-section .slack-date")).to_have_text([clock, clock])
    expect(card.locator(".block-context .slack-date")).to_have_text(clock)
    expect(message(page.locator("#messages"), "Ephemeral at").locator(".slack-date")).to_have_text(
        clock
    )
    # escaped, it is text in Slack too (what `/ops history --outcome refused` sends for a reason)
    expect(card.locator(".block-section").last).to_have_text(f"Escaped {date}")
    expect(card.locator(".emoji")).to_have_count(len(written))
    browser.shot("8-markup")
    assert visible_shortcodes(page) == []
    assert browser.errors == []
