"""Questions and approvals answered on the web page, in headless Chromium, against a real gateway.

The demo agent's ``survey`` prompt asks "How would you rate this demo?" with a
JSON Schema (a required rating of 1 to 5, an optional comment of at most 200
characters); its ``approve`` prompt asks to approve the ``announce`` tool,
whose arguments have a schema and so can be edited. The page builds the form
from the schema, shows the server's ``validation_failed`` beside the field it
names and keeps the question open, and replaces a question or an approval with
its ``interrupt_resolved`` message on every device of the user.

Screenshots go to ``artifacts/screenshots/``; with ``AGENTSOCKET_DOCS_SCREENSHOTS=1``
the one docs/web.md shows is also written to ``docs/img/web-question.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ServerProcess, run_server
from tests.e2e.web.pages import (
    PHONE,
    ROOT,
    SCREENSHOTS,
    Browser,
    Page,
    Wire,
    ask,
    expect,
    last_turn,
    open_page,
    record_wire,
    screenshot,
    serious_axe_violations,
    sign_in,
    sign_in_with_token,
    user_name,
)
from tests.e2e.web.test_chat import FlakyProxy
from tests.e2e.web.test_page import assert_no_horizontal_scroll

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
in_browser = pytest.mark.asyncio(loop_scope="module")

SURVEY = "a quick survey, please"
DOCS_IMAGE = ROOT / "docs" / "img" / "web-question.png"

#: The page retries at most every 10 s (plus jitter); a restart under load adds more.
RECONNECT_MS = 30_000


@pytest.fixture(scope="module")
def hasty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Dev mode, and questions and approvals that expire after 2 seconds."""
    env = {"AGENTSOCKET_APPROVAL_TIMEOUT": "2"}
    with run_server(tmp_path_factory.mktemp("web-hasty"), env=env, args=["--dev"]) as server:
        yield server


def sent(wire: Wire, kind: str) -> list[dict[str, Any]]:
    return [frame for frame in wire.sent if frame["type"] == kind]


def received(wire: Wire, kind: str) -> list[dict[str, Any]]:
    return [frame for frame in wire.received if frame["type"] == kind]


async def docs_screenshot(page: Page) -> None:
    """The screenshot docs/web.md shows, refreshed only when asked (it is committed)."""
    await screenshot(page, "web-question")
    if os.environ.get("AGENTSOCKET_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(SCREENSHOTS / "web-question.png", DOCS_IMAGE)


@in_browser
async def test__survey__answered_from_the_form__a_wrong_rating_is_refused_then_a_right_one_taken(
    page: Page, dev_server: ServerProcess
) -> None:
    wire = record_wire(page)
    await sign_in(page, dev_server.http, "ada")
    await ask(page, SURVEY)

    turn = last_turn(page)
    question = turn.locator(".event.question")
    await expect(question.locator(".question-prompt")).to_have_text("How would you rate this demo?")
    form = question.get_by_role("form", name="How would you rate this demo?")
    rating = form.get_by_label("Rating (1-5)")
    comment = form.get_by_label("Comment")
    # The schema, as input attributes: type, limits, required.
    assert await rating.get_attribute("type") == "number"
    assert await rating.get_attribute("min") == "1"
    assert await rating.get_attribute("max") == "5"
    assert await rating.get_attribute("required") == ""
    assert await comment.get_attribute("maxlength") == "200"
    assert await comment.get_attribute("required") is None
    await expect(question.locator(".countdown")).to_have_text(
        # The gateway's default expiry is 120 s.
        re.compile(r"^Expires in (2:00|1:[0-5]\d)\.$")
    )

    # 9 is past the input's max: the browser lets it through, the server's schema refuses it.
    await rating.fill("9")
    await comment.fill("neat")
    await form.get_by_role("button", name="Send answer").click()
    error = form.locator(".field-error").first
    await expect(error).to_have_text("9 is greater than the maximum of 5")
    await expect(rating).to_have_attribute("aria-invalid", "true")
    await expect(rating).to_be_focused()
    await expect(rating).to_be_enabled()
    await expect(page.locator("#banner")).to_be_hidden()  # shown on the form, not the banner
    [refusal] = [e for e in received(wire, "error") if e["data"]["code"] == "validation_failed"]
    assert [e["path"] for e in refusal["data"]["errors"]] == ["$.data.answer.rating"]
    await expect(turn).to_have_attribute("data-status", "running")
    await docs_screenshot(page)
    assert await serious_axe_violations(page) == []

    await rating.fill("4")
    await form.get_by_role("button", name="Send answer").click()
    await expect(turn.locator(".bubble.assistant")).to_have_text(
        'Thanks: you rated it 4/5 and said "neat".'
    )
    await expect(turn).to_have_attribute("data-status", "completed")
    await expect(question.locator("form")).to_have_count(0)
    await expect(question.locator(".resolution p")).to_have_text("The question was answered.")
    await expect(question.locator(".kv.answer .value")).to_have_text(
        '{"rating":4,"comment":"neat"}'
    )
    answers = [frame["data"]["answer"] for frame in sent(wire, "question_answer")]
    assert answers == [{"rating": 9, "comment": "neat"}, {"rating": 4, "comment": "neat"}]
    await screenshot(page, "question-answered")


@in_browser
async def test__survey__a_missing_required_rating__is_shown_at_its_field(
    page: Page, dev_server: ServerProcess
) -> None:
    await sign_in(page, dev_server.http, user_name("missing"))
    await ask(page, SURVEY)
    form = last_turn(page).get_by_role("form", name="How would you rate this demo?")
    await form.get_by_role("button", name="Send answer").click()
    rating_row = form.locator(".field").filter(has=page.get_by_label("Rating (1-5)"))
    await expect(rating_row.locator(".field-error")).to_have_text("'rating' is a required property")
    await form.get_by_label("Rating (1-5)").fill("5")
    await form.get_by_role("button", name="Send answer").click()
    await expect(last_turn(page).locator(".bubble.assistant")).to_have_text(
        "Thanks: you rated it 5/5."
    )


@in_browser
async def test__approval__edited_arguments__checked_by_the_page_then_by_the_tool_schema(
    page: Page, dev_server: ServerProcess
) -> None:
    wire = record_wire(page)
    await sign_in(page, dev_server.http, user_name("edit"))
    await ask(page, "please approve this announcement")
    approval = last_turn(page).locator(".approval")
    await expect(approval.locator(".countdown")).to_contain_text("then it is denied.")
    await approval.get_by_text("Edit arguments").click()
    arguments = approval.get_by_label("Arguments (JSON)")
    await expect(arguments).to_have_value('{\n  "text": "please approve this announcement"\n}')
    assert await serious_axe_violations(page) == []

    # Not JSON: the page says so and sends nothing.
    await arguments.fill('{"text": ')
    await approval.get_by_role("button", name="Approve").click()
    await expect(approval.locator(".field-error")).to_have_text("Not valid JSON.")
    assert sent(wire, "tool_approval") == []

    # JSON, but not what the tool takes: the server's schema check names the field.
    await arguments.fill('{"text": 5}')
    await approval.get_by_role("button", name="Approve").click()
    await expect(approval.locator(".field-error")).to_have_text("text: 5 is not of type 'string'")
    await expect(approval.get_by_role("button", name="Approve")).to_be_enabled()
    await screenshot(page, "approval-arguments-refused")

    await arguments.fill('{"text": "edited words"}')
    await approval.get_by_role("button", name="Approve").click()
    turn = last_turn(page)
    await expect(turn.locator(".bubble.assistant")).to_have_text(
        "Approved, so I announce: EDITED WORDS"
    )
    tool = turn.locator('.event.tool[data-tool-name="announce"]')
    await expect(tool.locator(".resolution p")).to_have_text(
        "announce was approved with edited arguments."
    )
    await expect(approval).to_have_count(0)
    assert [f["data"].get("arguments") for f in sent(wire, "tool_approval")] == [
        {"text": 5},
        {"text": "edited words"},
    ]


@in_browser
async def test__question_answered_on_one_device__resolved_on_the_other(
    browser: Browser, dev_server: ServerProcess
) -> None:
    user = user_name("two")
    async with open_page(browser) as laptop, open_page(browser) as phone:
        await sign_in(laptop, dev_server.http, user)
        await ask(laptop, SURVEY)
        laptop_form = last_turn(laptop).get_by_role("form", name="How would you rate this demo?")
        await expect(laptop_form).to_be_visible()
        thread_id = laptop.url.partition("#")[2]
        assert thread_id

        # The phone opens the thread mid-run: the question is there, answerable.
        await sign_in(phone, f"{dev_server.http}#{thread_id}", user)
        phone_form = last_turn(phone).get_by_role("form", name="How would you rate this demo?")
        await expect(phone_form).to_be_visible()

        await phone_form.get_by_label("Rating (1-5)").fill("3")
        await phone_form.get_by_role("button", name="Send answer").click()

        for device in (laptop, phone):
            turn = last_turn(device)
            await expect(turn.locator(".event.question form")).to_have_count(0)
            await expect(turn.locator(".event.question .resolution p")).to_have_text(
                "The question was answered."
            )
            await expect(turn.locator(".bubble.assistant")).to_have_text(
                "Thanks: you rated it 3/5."
            )
        await screenshot(laptop, "question-answered-elsewhere")


@in_browser
async def test__question_nobody_answers__expires_and_says_so(
    page: Page, hasty_server: ServerProcess
) -> None:
    await sign_in(page, hasty_server.http, user_name("late"))
    await ask(page, SURVEY)
    question = last_turn(page).locator(".event.question")
    await expect(question.locator("form")).to_be_visible()
    await expect(question.locator(".resolution p")).to_have_text(
        "No answer within 2 seconds: the question expired unanswered (the default)."
    )
    await expect(question.locator("form")).to_have_count(0)
    await expect(last_turn(page).locator(".bubble.assistant")).to_have_text(
        "No answer came, so no rating."
    )


@in_browser
async def test__question_and_arguments_editor__on_a_phone__fit_without_sideways_scroll(
    browser: Browser, dev_server: ServerProcess
) -> None:
    async with open_page(browser, PHONE) as page:
        await sign_in(page, dev_server.http, user_name("phone"))
        await ask(page, SURVEY)
        form = last_turn(page).get_by_role("form", name="How would you rate this demo?")
        await form.get_by_role("button", name="Send answer").click()  # its field error too
        await expect(form.locator(".field-error").first).to_be_visible()
        await assert_no_horizontal_scroll(page)
        await screenshot(page, "question-390px")
        await form.get_by_label("Rating (1-5)").fill("5")
        await form.get_by_role("button", name="Send answer").click()
        await expect(last_turn(page)).to_have_attribute("data-status", "completed")

        await ask(page, "please approve this announcement")
        approval = last_turn(page).locator(".approval")
        await approval.get_by_text("Edit arguments").click()
        await expect(approval.get_by_label("Arguments (JSON)")).to_be_visible()
        await assert_no_horizontal_scroll(page)
        await screenshot(page, "approval-arguments-390px")


@in_browser
async def test__question_pending_when_the_gateway_is_killed__answered_on_the_page_after_restart(
    page: Page, tmp_path: Path
) -> None:
    """kill -9 while the page's question waits; a new gateway on the same store: the page
    reconnects (through a proxy, to the same URL), shows the question once and answers it."""
    proxy: FlakyProxy | None = None
    try:
        with run_server(tmp_path) as first:
            proxy = FlakyProxy(first.port)
            await proxy.start()
            token = first.token("kim")
            await sign_in_with_token(page, proxy.url, token)
            await ask(page, SURVEY)
            form = last_turn(page).get_by_role("form", name="How would you rate this demo?")
            await expect(form).to_be_visible()
            proxy.cut()
            first.process.kill()  # kill -9 while the run waits for the answer
            first.process.wait()

        with run_server(tmp_path) as second:
            proxy.target_port = second.port
            proxy.restore()
            # Up to one whole reconnect backoff (10 s, with jitter) after the restart.
            await expect(page.locator("#status")).to_have_attribute(
                "data-state", "open", timeout=RECONNECT_MS
            )
            forms = page.locator(".event.question form")
            await expect(forms).to_have_count(1)
            await screenshot(page, "question-after-restart")
            await forms.get_by_label("Rating (1-5)").fill("4")
            await forms.get_by_role("button", name="Send answer").click()
            await expect(last_turn(page).locator(".bubble.assistant")).to_have_text(
                "Thanks: you rated it 4/5."
            )
            await expect(page.locator(".event.question form")).to_have_count(0)
            await expect(page.locator(".event.question .resolution p")).to_have_text(
                "The question was answered."
            )
    finally:
        if proxy is not None:
            await proxy.close()
