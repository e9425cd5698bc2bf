"""Cohorts: an instructor creates one, shares its code and link, makes a new code, sets
deadlines and sees the members; learners join with the code or the link; /teach/ lists every
cohort with its gradebook. Pages outside what the viewer teaches do not exist (404), and the
pages take a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from playwright.sync_api import expect

from lessons.models import Course, Exercise, Lesson
from lessons.review.models import Cohort, Deadline, Membership, ReviewItem
from lessons.review.views.cohorts import MEMBERS_PER_PAGE
from sandbox.models import Attempt
from tests.conftest import PASSWORD, make_attempt, make_exercise, make_run, make_user
from tests.lessons.review.test_gradebook import enrol, make_cohort, two_exercises


def settings_url(cohort: Cohort) -> str:
    return reverse("ls-teach-cohort", args=[cohort.pk])


def join_link(code: str) -> str:
    return reverse("ls-join-code", args=[code])


def said(response) -> str:
    """The message the request left for the next page (the last one, as messages pile up
    until a page shows them)."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def queries(client, address: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(address).status_code == 200
    return len(captured)


@pytest.fixture
def cohort(instructor) -> Cohort:
    return make_cohort("Tuesday group")


@pytest.fixture
def oscars_cohort(other_instructor) -> Cohort:
    return Cohort.objects.create(course=Course.objects.get(slug="other"), name="Oscar's group")


# Creating a cohort


def test_an_instructor_creates_a_cohort_and_lands_on_its_settings(ines_client, instructor):
    address = reverse("ls-teach-create-cohort", args=["basics"])
    page = ines_client.get(address)
    assert page.status_code == 200 and 'name="name"' in page.content.decode()
    response = ines_client.post(address, {"name": "Spring 2027"})
    cohort = Cohort.objects.get()
    assert (cohort.name, cohort.course.slug, cohort.created_by) == (
        "Spring 2027",
        "basics",
        instructor,
    )
    assert response.status_code == 302 and response["Location"] == settings_url(cohort)
    assert (
        said(response) == f"Cohort “Spring 2027” created: share its join code {cohort.join_code}."
    )


def test_a_cohort_needs_a_name(ines_client, instructor):
    response = ines_client.post(reverse("ls-teach-create-cohort", args=["basics"]), {"name": " "})
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert not Cohort.objects.exists()


def test_two_cohorts_of_a_course_never_share_a_name(ines_client, cohort, oscars_cohort):
    address = reverse("ls-teach-create-cohort", args=["basics"])
    response = ines_client.post(address, {"name": "tuesday GROUP"})
    assert response.status_code == 422
    assert "This course has a cohort called “tuesday GROUP” already." in response.content.decode()
    second = Cohort.objects.create(course=cohort.course, name="Evening group")
    renamed = ines_client.post(settings_url(second), {"action": "rename", "name": "Tuesday group"})
    assert renamed.status_code == 422
    assert Cohort.objects.get(pk=second.pk).name == "Evening group"
    # Its own name, and another course's cohort's name, are free.
    same = ines_client.post(settings_url(cohort), {"action": "rename", "name": "Tuesday group"})
    assert same.status_code == 302
    assert ines_client.post(address, {"name": "Oscar's group"}).status_code == 302


def test_no_one_creates_a_cohort_in_a_course_they_do_not_teach(
    client, instructor, other_instructor, learner
):
    address = reverse("ls-teach-create-cohort", args=["basics"])
    for user in (other_instructor, learner):
        client.force_login(user)
        assert client.get(address).status_code == 404
        assert client.post(address, {"name": "Mine now"}).status_code == 404
    assert not Cohort.objects.exists()


# The settings page


def test_the_settings_page_shows_the_code_the_full_link_the_members_and_the_gradebook(
    ines_client, cohort, learner
):
    enrol(cohort, learner)
    response = ines_client.get(settings_url(cohort))
    assert response.status_code == 200
    html = response.content.decode()
    code = cohort.join_code
    assert f'data-join-code="{code}"' in html and f"{code[:4]}" in html and f"{code[4:]}" in html
    assert f'value="http://testserver/join/{code}/"' in html and "readonly" in html
    assert f'href="{reverse("ls-teach-gradebook", args=[cohort.pk])}"' in html
    assert "1 learner" in html and "alice" in html
    assert "Times are in UTC" in html
    assert "review-cohorts.css" in html


def test_an_instructor_renames_the_cohort(ines_client, cohort):
    response = ines_client.post(settings_url(cohort), {"action": "rename", "name": "Wednesday"})
    assert response.status_code == 302 and said(response) == "Cohort renamed."
    cohort.refresh_from_db()
    assert cohort.name == "Wednesday"


def test_a_blank_name_is_refused_and_the_page_still_shows_the_old_one(ines_client, cohort):
    response = ines_client.post(settings_url(cohort), {"action": "rename", "name": ""})
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert "<h1>Tuesday group</h1>" in response.content.decode()
    cohort.refresh_from_db()
    assert cohort.name == "Tuesday group"


def test_a_new_code_replaces_the_old_one_which_stops_working(
    ines_client, client, cohort, learner, other_learner, exercise
):
    enrol(cohort, learner)
    old = cohort.join_code
    response = ines_client.post(settings_url(cohort), {"action": "new-code"})
    cohort.refresh_from_db()
    assert response.status_code == 302 and cohort.join_code != old
    assert (
        said(response) == f"New join code {cohort.join_code}: the old code and link no longer work."
    )
    assert Membership.objects.filter(cohort=cohort, learner=learner).exists()  # members stay

    client.force_login(other_learner)
    assert client.get(join_link(old)).status_code == 404
    assert client.post(join_link(old)).status_code == 404
    assert client.post(reverse("ls-join"), {"code": old}).status_code == 422
    assert client.get(join_link(cohort.join_code)).status_code == 200
    assert not Membership.objects.filter(learner=other_learner).exists()


def deadline_form(exercises: list[Exercise], **values: str) -> dict[str, str]:
    """The deadlines form as posted: every exercise's field, blank unless given."""
    return {"action": "deadlines", **{f"due_{e.pk}": values.get(e.slug, "") for e in exercises}}


def test_deadlines_are_saved_shown_and_cleared(ines_client, cohort):
    greet, thank = two_exercises()
    response = ines_client.post(
        settings_url(cohort), deadline_form([greet, thank], greet="2027-03-01T17:30")
    )
    assert response.status_code == 302 and said(response) == "Deadlines saved."
    assert response["Location"].endswith("#deadlines")
    deadline = Deadline.objects.get(cohort=cohort)
    assert deadline.exercise == greet
    assert deadline.due_at == datetime(2027, 3, 1, 17, 30, tzinfo=UTC)

    html = ines_client.get(settings_url(cohort)).content.decode()
    assert f'name="due_{greet.pk}" value="2027-03-01T17:30"' in html
    assert f'type="datetime-local" name="due_{thank.pk}"' in html

    ines_client.post(
        settings_url(cohort),
        deadline_form([greet, thank], greet="2027-03-02T09:00", thank="2027-04-01T00:00"),
    )
    assert dict(Deadline.objects.values_list("exercise__slug", "due_at")) == {
        "greet": datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
        "thank": datetime(2027, 4, 1, 0, 0, tzinfo=UTC),
    }
    ines_client.post(settings_url(cohort), deadline_form([greet, thank], thank="2027-04-01T00:00"))
    assert list(Deadline.objects.values_list("exercise__slug", flat=True)) == ["thank"]


def test_a_deadline_set_in_the_past_is_saved_with_a_warning_once(ines_client, cohort):
    # A mistyped year makes every attempt from now on late: the instructor is told.
    greet, thank = two_exercises()
    response = ines_client.post(
        settings_url(cohort), deadline_form([greet, thank], greet="2020-03-01T17:30")
    )
    assert response.status_code == 302
    told = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert told == [
        ("success", "Deadlines saved."),
        (
            "warning",
            "The deadline of “Greet someone” has already passed: every attempt at it from now "
            "on counts as late. Check the date if that is not what you meant.",
        ),
    ]
    assert Deadline.objects.get(cohort=cohort).due_at == datetime(2020, 3, 1, 17, 30, tzinfo=UTC)
    page = ines_client.get(settings_url(cohort)).content.decode()
    assert "has already passed" in page
    # Saved again with another deadline: the past one, unchanged, is not warned about again.
    again = ines_client.post(
        settings_url(cohort),
        deadline_form([greet, thank], greet="2020-03-01T17:30", thank="2027-04-01T00:00"),
    )
    assert [str(m) for m in get_messages(again.wsgi_request)] == ["Deadlines saved."]


def test_an_invalid_deadline_names_its_exercise_and_nothing_is_saved(ines_client, cohort):
    greet, thank = two_exercises()
    response = ines_client.post(
        settings_url(cohort),
        deadline_form([greet, thank], greet="2027-03-01T17:30", thank="next friday"),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "The deadlines were not saved." in html
    assert "The deadline of “Thank someone” is not a date and time" in html
    assert 'value="next friday"' in html  # what was typed stays, to be fixed
    assert not Deadline.objects.exists()


def test_deadlines_concern_this_cohort_only_and_list_drafts_in_lesson_order(ines_client, cohort):
    greet, thank = two_exercises()
    draft = make_exercise(slug="draft", title="Draft one", position=2, status=Exercise.DRAFT)
    make_exercise(slug="gone", title="Archived one", position=3, archived=True)
    other = make_cohort("Other group")
    due = datetime(2027, 1, 1, tzinfo=UTC)
    Deadline.objects.create(cohort=other, exercise=greet, due_at=due)
    html = ines_client.get(settings_url(cohort)).content.decode()
    assert html.index("Greet someone") < html.index("Thank someone") < html.index("Draft one")
    assert "Archived one" not in html and 'class="badge draft"' in html

    ines_client.post(settings_url(cohort), deadline_form([greet, thank, draft]))
    assert Deadline.objects.get(cohort=other).due_at == due


def test_a_deactivated_member_is_marked_so_in_the_member_list(ines_client, cohort):
    enrol(cohort, make_user("gone", is_active=False))
    html = ines_client.get(settings_url(cohort)).content.decode()
    row = html[html.index('<span class="member-username">gone</span>') :].split("</th>")[0]
    assert "deactivated" in row


def test_members_come_a_page_at_a_time_newest_first(ines_client, cohort):
    enrol(cohort, *[make_user(f"u{i:03}") for i in range(MEMBERS_PER_PAGE + 1)])
    first = ines_client.get(settings_url(cohort)).content.decode()
    assert f"{MEMBERS_PER_PAGE + 1} learners" in first
    assert first.count('class="member-username"') == MEMBERS_PER_PAGE
    assert 'rel="next" href="?page=2"' in first
    second = ines_client.get(settings_url(cohort) + "?page=2").content.decode()
    assert second.count('class="member-username"') == 1


def test_an_instructor_removes_a_member_whose_work_is_kept(
    ines_client, cohort, oscars_cohort, learner, exercise
):
    enrol(cohort, learner, make_user("bob"))
    enrol(oscars_cohort, learner)
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    page = ines_client.get(settings_url(cohort)).content.decode()
    assert 'aria-label="Remove alice from Tuesday group"' in page
    mine = Membership.objects.get(cohort=cohort, learner=learner)
    theirs = Membership.objects.get(cohort=oscars_cohort)
    for wrong in (theirs.pk, "x", "99999999999999999999", ""):  # not of this cohort: nothing
        data = {"action": "remove", "membership": wrong}
        assert ines_client.post(settings_url(cohort), data).status_code == 404
    response = ines_client.post(settings_url(cohort), {"action": "remove", "membership": mine.pk})
    assert response.status_code == 302
    assert "alice is no longer in Tuesday group" in said(response)
    assert [m.learner.username for m in cohort.memberships.all()] == ["bob"]
    assert Membership.objects.filter(cohort=oscars_cohort, learner=learner).exists()
    assert Attempt.objects.filter(pk=attempt.pk).exists()


def test_the_settings_page_takes_the_same_queries_for_1_or_60_members_and_exercises(
    ines_client, cohort
):
    greet = make_exercise()
    enrol(cohort, make_user("first"))
    Deadline.objects.create(cohort=cohort, exercise=greet, due_at=datetime(2027, 1, 1, tzinfo=UTC))
    few = queries(ines_client, settings_url(cohort))
    enrol(cohort, *[make_user(f"u{i:03}") for i in range(60)])
    for n in range(5):
        exercise = make_exercise(slug=f"more{n}", position=n + 1)
        Deadline.objects.create(
            cohort=cohort, exercise=exercise, due_at=datetime(2027, 1, 1, tzinfo=UTC)
        )
    assert queries(ines_client, settings_url(cohort)) == few


def test_another_instructors_cohort_does_not_exist_for_you(ines_client, oscars_cohort):
    code = oscars_cohort.join_code
    assert ines_client.get(settings_url(oscars_cohort)).status_code == 404
    for action in ("new-code", "rename"):
        data = {"action": action, "name": "Taken"}
        assert ines_client.post(settings_url(oscars_cohort), data).status_code == 404
    oscars_cohort.refresh_from_db()
    assert (oscars_cohort.name, oscars_cohort.join_code) == ("Oscar's group", code)


def test_a_learner_opens_no_teach_page_of_cohorts(alice_client, cohort):
    assert alice_client.get(settings_url(cohort)).status_code == 404
    assert alice_client.post(settings_url(cohort), {"action": "new-code"}).status_code == 404
    assert alice_client.get(reverse("ls-teach-create-cohort", args=["basics"])).status_code == 404


# Joining


def test_a_learner_joins_with_the_code_typed_any_way(alice_client, cohort, learner, exercise):
    form = alice_client.get(reverse("ls-join"))
    assert form.status_code == 200 and "Enter your join code" in form.content.decode()
    typed = f" {cohort.join_code[:4].lower()}-{cohort.join_code[4:]} "
    response = alice_client.post(reverse("ls-join"), {"code": typed})
    assert response.status_code == 302
    assert response["Location"] == reverse("ls-course", args=["basics"])
    assert said(response) == "You joined Tuesday group (Basics)."
    assert Membership.objects.filter(cohort=cohort, learner=learner).count() == 1
    course_page = alice_client.get(response["Location"]).content.decode()
    assert "You joined Tuesday group (Basics)." in course_page

    again = alice_client.post(reverse("ls-join"), {"code": cohort.join_code})
    assert said(again) == "You are already in Tuesday group (Basics)."
    assert Membership.objects.filter(cohort=cohort, learner=learner).count() == 1


@pytest.mark.parametrize("code", ["NOPE2345", "", "---", "<b>x</b>"])
def test_an_unknown_code_shows_the_form_again_with_an_error(alice_client, cohort, code):
    response = alice_client.post(reverse("ls-join"), {"code": code})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter your join code" in html and 'class="field-error"' in html
    assert "<b>x</b>" not in html
    assert not Membership.objects.exists()


def test_a_join_without_a_code_asks_for_it(alice_client, cohort):
    # An empty body was read as no form at all: the page came back as if opened, 200.
    response = alice_client.post(reverse("ls-join"), {})
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert not Membership.objects.exists()


def test_a_cohort_of_an_archived_course_cannot_be_joined(alice_client, cohort):
    Course.objects.filter(pk=cohort.course_id).update(archived=True)
    response = alice_client.post(reverse("ls-join"), {"code": cohort.join_code})
    assert (
        response.status_code == 422 and "No open cohort has this code" in response.content.decode()
    )
    assert alice_client.get(join_link(cohort.join_code)).status_code == 404
    assert not Membership.objects.exists()


def test_the_settings_page_says_the_code_opens_nothing_while_the_course_is_closed(
    ines_client, cohort, exercise
):
    assert "data-closed" not in ines_client.get(settings_url(cohort)).content.decode()
    for change, why in (
        ({"archived": True}, "Basics is archived"),
        ({"archived": False, "published": False}, "learners cannot open Basics"),
    ):
        Course.objects.filter(pk=cohort.course_id).update(**change)
        html = ines_client.get(settings_url(cohort)).content.decode()
        assert "data-closed" in html and why in html


def test_a_cohort_of_a_draft_or_archived_course_is_closed_to_its_instructors_too(
    ines_client, cohort, exercise
):
    for change in ({"archived": True}, {"archived": False, "published": False}):
        Course.objects.filter(pk=cohort.course_id).update(**change)
        response = ines_client.post(reverse("ls-join"), {"code": cohort.join_code})
        assert response.status_code == 422
        assert ines_client.get(join_link(cohort.join_code)).status_code == 404
    assert not Membership.objects.exists()


def test_an_instructor_following_their_own_join_link_is_not_made_a_member(
    ines_client, cohort, exercise
):
    told = "You teach Basics, so you were not added to Tuesday group: its code is for learners."
    for response in (
        ines_client.get(join_link(cohort.join_code)),
        ines_client.post(join_link(cohort.join_code)),
        ines_client.post(reverse("ls-join"), {"code": cohort.join_code}),
    ):
        assert response.status_code == 302 and response["Location"] == settings_url(cohort)
        assert said(response) == told
    assert not Membership.objects.exists()  # so not a row of the gradebook or the statistics


def test_a_learner_can_be_in_several_cohorts(
    alice_client, cohort, learner, other_instructor, exercise
):
    second = make_cohort("Evening group")
    other = Course.objects.get(slug="other")
    make_exercise(lesson=Lesson.objects.create(course=other, slug="l", title="L"))
    third = Cohort.objects.create(course=other, name="Other course")
    for each in (cohort, second, third):
        alice_client.post(reverse("ls-join"), {"code": each.join_code})
    assert set(Membership.objects.filter(learner=learner).values_list("cohort", flat=True)) == {
        cohort.pk,
        second.pk,
        third.pk,
    }


def test_the_join_link_asks_first_and_joins_on_post(alice_client, cohort, learner, exercise):
    address = join_link(cohort.join_code.lower())
    page = alice_client.get(address)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Join Tuesday group of Basics?" in html and 'method="post"' in html
    assert not Membership.objects.exists()  # GET changes nothing

    response = alice_client.post(address)
    assert response.status_code == 302 and response["Location"] == reverse(
        "ls-course", args=["basics"]
    )
    assert said(response) == "You joined Tuesday group (Basics)."
    assert Membership.objects.filter(cohort=cohort, learner=learner).exists()
    assert "You are already in Tuesday group" in alice_client.get(address).content.decode()


def test_an_unknown_join_link_is_a_friendly_404(alice_client, cohort):
    response = alice_client.get(join_link("WRONG234"))
    assert response.status_code == 404
    html = response.content.decode()
    assert "This join link does not work" in html and 'name="code"' in html


def test_anonymous_people_log_in_first_and_come_back(client, cohort):
    for address in (join_link(cohort.join_code), reverse("ls-join")):
        response = client.get(address)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={address}"
    assert client.post(join_link(cohort.join_code)).status_code == 302
    assert not Membership.objects.exists()


def test_the_course_list_links_to_joining(alice_client):
    html = alice_client.get(reverse("ls-courses")).content.decode()
    assert f'href="{reverse("ls-join")}"' in html and "Join a cohort" in html


# /teach/ and the course page


def open_review_item(exercise: Exercise, learner, resolved: bool = False) -> ReviewItem:
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED)
    run = make_run(attempt)
    return ReviewItem.objects.create(
        attempt=attempt,
        run=run,
        criterion_id="greets",
        reason=ReviewItem.NEEDS_REVIEW,
        resolved_at=attempt.created_at if resolved else None,
    )


def test_teach_home_lists_every_cohort_with_members_links_and_the_review_count(
    ines_client, cohort, oscars_cohort, learner, other_learner
):
    enrol(cohort, learner, other_learner)
    empty = make_cohort("Empty group")
    greet = make_exercise()
    open_review_item(greet, learner)
    open_review_item(greet, other_learner, resolved=True)
    theirs = make_exercise(slug="theirs")
    theirs.lesson = Course.objects.get(slug="other").lessons.create(slug="l", title="L")
    theirs.save(update_fields=["lesson"])
    open_review_item(theirs, learner)

    html = ines_client.get(reverse("ls-teach")).content.decode()
    for each, members in ((cohort, "2 learners"), (empty, "0 learners")):
        row = html[html.index(f'data-cohort="{each.pk}"') :][:800]
        assert each.name in row and members in row
        assert reverse("ls-teach-gradebook", args=[each.pk]) in row
        assert reverse("ls-teach-cohort", args=[each.pk]) in row
    assert "Oscar" not in html
    assert reverse("ls-teach-create-cohort", args=["basics"]) in html
    queue = html[html.index("data-review-queue") :][:300]
    assert reverse("ls-teach-review-queue") in html[html.index("data-review-queue") - 80 :][:200]
    assert ">1<" in queue


def test_teach_home_takes_the_same_queries_for_1_or_many_cohorts_courses_and_members(
    ines_client, instructor, cohort, learner
):
    enrol(cohort, learner)
    few = queries(ines_client, reverse("ls-teach"))
    for n in range(3):
        course = Course.objects.create(slug=f"c{n}", title=f"Course {n}")
        course.instructors.add(instructor)
        for m in range(2):
            group = Cohort.objects.create(course=course, name=f"Group {m}")
            enrol(group, *[make_user(f"u{n}{m}{i}") for i in range(3)])
    open_review_item(make_exercise(), learner)
    assert queries(ines_client, reverse("ls-teach")) == few


def test_the_course_page_lists_its_cohorts(ines_client, cohort, oscars_cohort):
    html = ines_client.get(reverse("ls-teach-course", args=["basics"])).content.decode()
    assert "Tuesday group" in html and "Oscar" not in html
    assert reverse("ls-teach-gradebook", args=[cohort.pk]) in html
    assert reverse("ls-teach-cohort", args=[cohort.pk]) in html
    assert reverse("ls-teach-create-cohort", args=["basics"]) in html


# In a browser, on a laptop and a phone


def log_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Playground")).to_be_visible()


def no_sideways_scroll(page, width: int) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_settings_and_join_pages_on_a_laptop_and_a_phone(embedded_stack, page):
    instructor = make_user("instructor", is_staff=True)
    greet, _ = two_exercises()
    course = Course.objects.get(slug="basics")
    course.instructors.add(instructor)
    cohort = Cohort.objects.create(course=course, name="Spring 2027, Tuesday group")
    enrol(cohort, *[make_user(f"learner{i:02}") for i in range(12)])
    make_user("newcomer")
    log_in(page, embedded_stack.url, "instructor")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(embedded_stack.url + settings_url(cohort))
        expect(page.get_by_role("heading", name="Spring 2027, Tuesday group")).to_be_visible()
        expect(page.locator(".join-code")).to_be_visible()
        expect(page.get_by_label("Join link")).to_have_value(
            f"{embedded_stack.url}/join/{cohort.join_code}/"
        )
        expect(page.get_by_label("Greet someone")).to_be_visible()
        no_sideways_scroll(page, width)
        page.screenshot(path=f"/tmp/cohort-settings-{width}.png", full_page=True)
        page.goto(f"{embedded_stack.url}/teach/")
        expect(page.locator(f'[data-cohort="{cohort.pk}"]')).to_contain_text("12 learners")
        no_sideways_scroll(page, width)
        page.screenshot(path=f"/tmp/teach-home-{width}.png", full_page=True)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(embedded_stack.url + settings_url(cohort))
    page.get_by_label("Greet someone").fill("2027-03-01T17:30")
    page.get_by_role("button", name="Save deadlines").click()
    expect(page.get_by_text("Deadlines saved.")).to_be_visible()
    assert Deadline.objects.get().exercise_id == greet.pk

    learner_page = page.context.browser.new_context().new_page()  # a second person
    log_in(learner_page, embedded_stack.url, "newcomer")
    for width in (1280, 390):
        learner_page.set_viewport_size({"width": width, "height": 900})
        learner_page.goto(f"{embedded_stack.url}/join/")
        expect(learner_page.get_by_role("heading", name="Enter your join code")).to_be_visible()
        no_sideways_scroll(learner_page, width)
        learner_page.screenshot(path=f"/tmp/join-{width}.png", full_page=True)
        learner_page.goto(embedded_stack.url + join_link("WRONG234"))
        expect(learner_page.get_by_role("alert")).to_contain_text("No open cohort has the code")
        no_sideways_scroll(learner_page, width)
        learner_page.screenshot(path=f"/tmp/join-unknown-{width}.png", full_page=True)
        learner_page.goto(embedded_stack.url + join_link(cohort.join_code))
        no_sideways_scroll(learner_page, width)
        learner_page.screenshot(path=f"/tmp/join-confirm-{width}.png", full_page=True)
    learner_page.get_by_role("button", name="Join Spring 2027, Tuesday group").click()
    expect(learner_page.get_by_role("heading", name="Basics")).to_be_visible()
    assert Membership.objects.filter(cohort=cohort, learner__username="newcomer").exists()
    assert page.dialogs == []
