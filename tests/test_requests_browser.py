"""sandbox/static/sandbox/requests.js: a request that does not get its answer (the session
ended, the server failed or cannot be reached) says so on the page, instead of changing
nothing or swapping the login page into a part of it."""

from __future__ import annotations

import urllib.parse

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from lessons.models import Exercise
from sandbox.models import Attempt
from tests.conftest import log_in, make_exercise, make_user
from tests.lessons.review.test_gradebook import make_cohort

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_exercise(stack, page) -> Exercise:
    exercise = make_exercise()
    make_user("alice")
    log_in(page, stack.url, "alice")
    page.goto(f"{stack.url}{exercise.get_absolute_url()}")
    return exercise


def test_a_submit_the_server_fails_says_so(embedded_stack, page):
    open_exercise(embedded_stack, page)
    page.route("**/submit/", lambda route: route.fulfill(status=500, body="Server Error"))
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#result").get_by_role("alert")).to_contain_text("error 500")


def test_a_submit_to_an_exercise_closed_since_the_page_opened_says_why(embedded_stack, page):
    """The instructor archived the exercise while the learner had it open: the submit is
    refused (404), and the page says why instead of "try again in a moment"."""
    exercise = open_exercise(embedded_stack, page)
    Exercise.objects.filter(pk=exercise.pk).update(archived=True)
    page.get_by_role("button", name="Submit").click()
    alert = page.locator("#result").get_by_role("alert")
    expect(alert).to_contain_text("no longer open to you")
    expect(alert).not_to_contain_text("Try again")
    assert not Attempt.objects.exists()


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


@pytest.mark.parametrize("ended", ["logged out in another tab", "cookies gone"])
def test_a_submit_after_the_session_ended_says_so(embedded_stack, page, ended):
    """The login page (after a redirect) or the CSRF refusal (403) is never swapped into the
    result: the page says nothing was sent, keeps the prompt, and links to log in again."""
    exercise = open_exercise(embedded_stack, page)
    if ended == "cookies gone":
        page.context.clear_cookies()
    else:
        other = page.context.new_page()
        other.goto(embedded_stack.url + "/")
        other.get_by_role("button", name="Log out").click()
        other.close()

    page.get_by_label("User prompt").fill("Say hello to {name}.")
    page.get_by_role("button", name="Submit").click()
    alert = page.locator("#session-ended")
    expect(alert).to_contain_text("this was not sent")
    next_url = urllib.parse.quote(exercise.get_absolute_url(), safe="")
    expect(alert.get_by_role("link", name="log in again")).to_have_attribute(
        "href", f"/accounts/login/?next={next_url}"
    )
    expect(page.locator("main .topbar")).to_have_count(0)
    expect(page.locator("#result")).not_to_contain_text("Log in")
    expect(page.locator(".request-failed")).to_have_count(0)  # said once, not twice
    expect(page.get_by_label("User prompt")).to_have_value("Say hello to {name}.")
    assert Attempt.objects.count() == 0


def test_a_poll_failing_again_and_again_says_so_once(embedded_stack, page):
    # The note is an alert: rewritten (or moved) at every failed poll, 400 ms apart, a screen
    # reader would read it out again and again while the server is away.
    open_exercise(embedded_stack, page)
    page.route("**/attempts/**", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Submit").click()
    note = page.locator("#attempt-status").get_by_role("alert")
    expect(note).to_contain_text("keeps trying")
    page.evaluate(
        """() => {
          window.noteChanges = 0;
          const status = document.getElementById("attempt-status");
          new MutationObserver((changes) => {
            for (const change of changes) {
              const nodes = [...change.addedNodes, ...change.removedNodes];
              if (change.target.closest?.(".request-failed") ||
                  nodes.some((n) => n.classList?.contains("request-failed"))) window.noteChanges++;
            }
          }).observe(status, { childList: true, subtree: true, characterData: true });
        }"""
    )
    page.wait_for_timeout(2000)  # about five failed polls
    expect(note).to_have_count(1)
    assert page.evaluate("window.noteChanges") == 0


def test_a_search_that_cannot_reach_the_server_says_nothing_was_sent(embedded_stack, page):
    """Only a poll keeps trying: a search as you type is not asked again by itself."""
    cohort = make_cohort("Spring")
    cohort.course.instructors.add(make_user("ines"))
    log_in(page, embedded_stack.url, "ines")
    page.goto(f"{embedded_stack.url}{reverse('ls-teach-gradebook', args=[cohort.pk])}")
    page.route("**/?q=*", lambda route: route.abort("connectionrefused"))
    page.get_by_label("Search learners").fill("ada")
    note = page.locator("#gb-results").get_by_role("alert")
    expect(note).to_contain_text("nothing was sent")
    expect(note).not_to_contain_text("keeps trying")
