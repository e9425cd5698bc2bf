"""The gradebook page: an instructor's view of one cohort, sorted, searched and paged by links
that work without JavaScript, with search as you type through htmx; a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.review.gradebook import PER_PAGE
from lessons.review.models import Deadline
from sandbox.models import Attempt
from tests.conftest import HTMX, make_attempt, make_exercise, make_user
from tests.lessons.review.test_gradebook import (
    enrol,
    errored,
    make_cohort,
    progress,
    two_exercises,
)


def url(cohort, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("ls-teach-gradebook", args=[cohort.pk]) + (f"?{query}" if query else "")


@pytest.fixture
def cohort(instructor, learner):
    cohort = make_cohort()
    enrol(cohort, learner)
    return cohort


def test_the_gradebook_shows_each_cell_linked_to_its_drilldown(ines_client, cohort, learner):
    greet, thank = two_exercises()
    progress(learner, greet, 1.0, attempts=3)
    response = ines_client.get(url(cohort))
    assert response.status_code == 200
    html = response.content.decode()
    drill = reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, greet.pk])
    assert f'href="{drill}"' in html
    cell = html[html.index(f'href="{drill}"') : html.index("</td>", html.index(drill))]
    assert "100%" in cell and "✓" in cell and "3 tries" in cell and "passed" in cell
    untried = reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, thank.pk])
    assert "not tried" in html[html.index(untried) :][:300]
    stats = reverse("ls-teach-exercise-stats", args=[cohort.pk, thank.pk])
    assert f'href="{stats}"' in html and "Thank someone" in html
    assert reverse("ls-teach-gradebook-csv", args=[cohort.pk]) in html
    assert reverse("ls-teach-attempts-csv", args=[cohort.pk]) in html
    assert "review-gradebook.css" in html


def test_work_stuck_on_errors_says_so_with_the_last_errors_code_and_reason(
    ines_client, cohort, learner
):
    greet, thank = two_exercises()
    errored(learner, greet, "provider", minutes=9)
    errored(learner, greet, "time_limit", minutes=3)
    html = ines_client.get(url(cohort)).content.decode()
    drill = reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, greet.pk])
    cell = html[html.index(f'href="{drill}"') : html.index("</td>", html.index(drill))]
    assert "errors only" in cell and "2 tries" in cell and "time_limit" in cell
    assert "It stopped: time_limit." in cell and "not tried" not in cell
    assert 'class="gb-cell errors"' in html
    untried = reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, thank.pk])
    assert "not tried" in html[html.index(untried) :][:300]


def test_a_deactivated_learner_stays_in_the_gradebook_marked_deactivated(
    ines_client, cohort, learner
):
    # Their work is the record, but they cannot log in: an instructor chasing them should know.
    two_exercises()
    gone = make_user("gone")
    enrol(cohort, gone)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    html = ines_client.get(url(cohort)).content.decode()
    rows = {
        name: html[html.index(f'<span class="gb-name">{name}</span>') :]
        for name in ("gone", "alice")
    }
    assert "deactivated" in rows["gone"].split("</th>")[0]
    assert "deactivated" not in rows["alice"].split("</th>")[0]


def test_work_only_queued_or_running_says_in_progress(ines_client, cohort, learner):
    greet, _ = two_exercises()
    make_attempt(learner, greet, status=Attempt.RUNNING)
    html = ines_client.get(url(cohort)).content.decode()
    drill = reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, greet.pk])
    cell = html[html.index(f'href="{drill}"') : html.index("</td>", html.index(drill))]
    assert "in progress" in cell and "1 queued or running" in cell
    assert "not tried" not in cell and 'class="gb-cell pending"' in html


def test_late_work_says_late_in_words(ines_client, cohort, learner):
    greet, _ = two_exercises()
    Deadline.objects.create(
        cohort=cohort, exercise=greet, due_at=timezone.now() - timedelta(days=2)
    )
    progress(learner, greet, 0.4)
    html = ines_client.get(url(cohort)).content.decode()
    assert '<span class="gb-late">late</span>' in html and "due " in html


def test_headers_sort_with_aria_sort_and_links_keep_the_search(ines_client, cohort, learner):
    greet, _ = two_exercises()
    html = ines_client.get(url(cohort, q="ali", sort="total", dir="desc")).content.decode()
    assert html.count('aria-sort="descending"') == 1
    total_link = re.search(
        r'class="gb-sum" aria-sort="descending"><a class="gb-sort" href="\?([^"]+)">Total', html
    )
    assert total_link and "q=ali" in total_link[1] and "dir=asc" in total_link[1]
    assert f"sort=ex-{greet.pk}" in html
    assert 'value="ali"' in html  # the search box keeps what was typed


@pytest.mark.parametrize("sort", ["ex-" + "9" * 5000, "ex-007", "ex--1", "ex-"])
def test_a_sort_naming_no_column_sorts_by_learner(ines_client, cohort, sort):
    # 5,000 digits were past Python's limit for int(): a 500.
    r = ines_client.get(url(cohort, sort=sort))
    assert r.status_code == 200
    assert 'aria-sort="ascending"><a class="gb-sort"' in r.content.decode()


def test_page_links_keep_the_search_and_sort(ines_client, cohort):
    two_exercises()
    enrol(cohort, *[make_user(f"u{i:03}") for i in range(PER_PAGE + 1)])
    html = ines_client.get(url(cohort, q="u", sort="total", dir="asc")).content.decode()
    nxt = re.search(r'rel="next" href="\?([^"]+)"', html)
    assert nxt and {"q=u", "sort=total", "dir=asc", "page=2"} <= set(nxt[1].split("&amp;"))
    second = ines_client.get(url(cohort, q="u", sort="total", dir="asc", page=2))
    assert "Learners 51–51 of 51" in second.content.decode()


def test_search_as_you_type_gets_the_results_alone_and_history_the_page(ines_client, cohort):
    two_exercises()
    enrol(cohort, make_user("grace", first_name="Grace"))
    partial = ines_client.get(url(cohort, q="grace"), headers=HTMX).content.decode()
    assert partial.lstrip().startswith('<p id="gb-count" hx-swap-oob="innerHTML">Learners 1–1 of 1')
    assert '<div id="gb-results">' in partial
    assert "Grace" in partial and "alice" not in partial and "<html" not in partial
    restore = {**HTMX, "HX-History-Restore-Request": "true"}
    assert "<html" in ines_client.get(url(cohort, q="grace"), headers=restore).content.decode()


def test_a_course_without_published_exercises_says_so(ines_client, cohort):
    make_exercise(status="draft")
    html = ines_client.get(url(cohort)).content.decode()
    assert "Basics has no published exercise yet" in html and "alice" in html


def test_a_search_without_a_match_says_so(ines_client, cohort):
    two_exercises()
    html = ines_client.get(url(cohort, q="nobody")).content.decode()
    assert "No learner of this cohort matches “nobody”" in html


def test_learner_names_are_escaped(ines_client, cohort):
    two_exercises()
    enrol(cohort, make_user("mallory", first_name="<script>alert(1)</script>"))
    html = ines_client.get(url(cohort)).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_a_name_cut_short_in_its_column_is_whole_in_its_title(ines_client, cohort):
    """The learner column cuts a long name with an ellipsis, and nothing showed the rest."""
    two_exercises()
    username = "maximiliana.konstantinopoulou-vanderbergh@example.org"
    enrol(cohort, make_user(username, first_name="Maximiliana", last_name="Konstantinopoulou"))
    html = ines_client.get(url(cohort)).content.decode()
    assert f'class="gb-learner" title="Maximiliana Konstantinopoulou ({username})"' in html


def test_learners_of_another_cohort_of_the_course_never_appear(ines_client, cohort):
    greet, _ = two_exercises()
    evening = make_cohort("Evening group")
    bob = make_user("bob_elsewhere")
    enrol(evening, bob)
    progress(bob, greet, 1.0)
    html = ines_client.get(url(cohort)).content.decode()
    assert "bob_elsewhere" not in html and "alice" in html
    assert "· 1 learner ·" in html


def test_only_the_courses_instructors_may_open_it(
    client, cohort, learner, other_instructor, instructor
):
    two_exercises()
    assert client.get(url(cohort)).status_code == 302  # to the login page
    client.force_login(learner)
    assert client.get(url(cohort)).status_code == 404
    client.force_login(other_instructor)
    assert client.get(url(cohort)).status_code == 404
    client.force_login(instructor)
    assert client.get(reverse("ls-teach-gradebook", args=[cohort.pk + 999])).status_code == 404
    assert client.post(url(cohort)).status_code == 405


def queries(client, address: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(address).status_code == 200
    return len(captured)


@pytest.mark.parametrize("sort", ["learner", "total", "ex"])
def test_the_page_takes_the_same_queries_for_2_or_60_learners_and_2_or_6_exercises(
    ines_client, cohort, learner, sort
):
    greet, thank = two_exercises()
    enrol(cohort, make_user("bob"))
    progress(learner, greet, 0.5)

    def sort_param():
        return f"ex-{greet.pk}" if sort == "ex" else sort

    few = queries(ines_client, url(cohort, sort=sort_param(), q="", page=1))
    more = [make_exercise(slug=f"more{i}", position=5 + i) for i in range(4)]
    crowd = [make_user(f"u{i:03}") for i in range(58)]
    enrol(cohort, *crowd)
    for user in crowd:
        for exercise in (greet, thank, *more):
            progress(user, exercise, 0.7, attempts=2)
    assert queries(ines_client, url(cohort, sort=sort_param(), q="", page=1)) == few
    assert queries(ines_client, url(cohort, sort=sort_param(), q="u0", page=2)) == few


@pytest.mark.parametrize(
    "params", [{"sort": "ex-%C2%B2"}, {"sort": "ex-99999999999999999999"}, {"q": "a%00b"}]
)
def test_odd_sorts_and_searches_give_a_page_not_an_error(ines_client, cohort, params):
    two_exercises()
    assert ines_client.get(url(cohort, **params)).status_code == 200


def test_the_page_and_its_htmx_part_are_cached_apart(ines_client, cohort):
    # Search pushes the address htmx fetched the results part from; without Vary, Back to it
    # from another page showed that part alone, from the browser's cache.
    for headers in ({}, HTMX):
        response = ines_client.get(url(cohort, q="a"), headers=headers)
        assert "HX-Request" in response["Vary"]
