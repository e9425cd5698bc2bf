"""A request that cannot complete says so on the page, instead of changing nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, make_exercise, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_exercise(stack, page) -> None:
    exercise = make_exercise()
    make_user("alice")
    page.goto(f"{stack.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{stack.url}{exercise.get_absolute_url()}")


def test_a_submit_the_server_fails_says_so(embedded_stack, page):
    open_exercise(embedded_stack, page)
    page.route("**/submit/", lambda route: route.fulfill(status=500, body="Server Error"))
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#result").get_by_role("alert")).to_contain_text("error 500")


def test_a_submit_to_a_stopped_server_says_so(embedded_stack, page):
    open_exercise(embedded_stack, page)
    page.route("**/submit/", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#result").get_by_role("alert")).to_contain_text("cannot be reached")


def test_a_poll_that_cannot_reach_the_server_says_so_until_it_can(embedded_stack, page):
    open_exercise(embedded_stack, page)
    page.route("**/attempts/**", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Submit").click()
    status = page.locator("#attempt-status")
    expect(status.get_by_role("alert")).to_contain_text("keeps trying")
    page.unroute("**/attempts/**")
    expect(status).to_have_attribute("data-status", "graded", timeout=20_000)
    expect(status.get_by_role("alert")).to_have_count(0)
