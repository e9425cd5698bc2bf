"""The Django admin is a write path too: editing a published exercise or its test cases there
checks it again, as the instructor's editors do (publishing.recheck_if_changed); and making
someone a course's instructor there takes them out of its cohorts, as the editor does."""

from __future__ import annotations

import pytest

from lessons.authoring import publishing
from lessons.models import Case, Exercise, PublishCheck
from lessons.review.models import Cohort, Membership
from tests.conftest import make_exercise, make_user, run_queued


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def exercise(checked_exercise):
    return checked_exercise


def bound_data(form) -> dict[str, object]:
    """Return the POST data that submits a form as the admin page shows it."""
    data: dict[str, object] = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[form.add_prefix(name)] = "on"
        elif value is not None and value is not False:
            data[form.add_prefix(name)] = value
    return data


def change_page_data(client, url: str) -> dict[str, object]:
    """Return the POST data of an admin change page, its inline formsets included."""
    context = client.get(url).context
    data = bound_data(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(bound_data(formset.management_form))
        for form in formset.forms:
            data.update(bound_data(form))
    return data


def latest_check(exercise) -> PublishCheck:
    return exercise.publish_checks.first()


def test_saving_the_exercise_unchanged_starts_no_check(admin_client, exercise):
    url = f"/admin/lessons/exercise/{exercise.pk}/change/"
    r = admin_client.post(url, change_page_data(admin_client, url))
    assert r.status_code == 302, r.context["adminform"].form.errors
    assert PublishCheck.objects.count() == 1


def test_the_exercise_form_checks_it_again(admin_client, exercise):
    url = f"/admin/lessons/exercise/{exercise.pk}/change/"
    data = change_page_data(admin_client, url)
    data["temperature"] = "0.5"
    r = admin_client.post(url, data)
    assert r.status_code == 302
    check = latest_check(exercise)
    assert (check.reason, check.status, PublishCheck.objects.count()) == ("recheck", "checking", 2)
    assert check.reference.learner.username == "root"
    run_queued()
    assert latest_check(exercise).status == "passed"


def test_an_inline_case_edited_in_the_exercise_form_checks_it_again_once(admin_client, exercise):
    url = f"/admin/lessons/exercise/{exercise.pk}/change/"
    data = change_page_data(admin_client, url)
    data["cases-0-variables"] = '{"name": "Grace"}'
    data["title"] = "Greet someone warmly"
    r = admin_client.post(url, data)
    assert r.status_code == 302
    assert exercise.cases.get().variables == {"name": "Grace"}
    assert PublishCheck.objects.count() == 2
    assert latest_check(exercise).status == "checking"


def test_an_inline_case_deleted_in_the_exercise_form_checks_it_again(admin_client, exercise):
    Case.objects.create(exercise=exercise, name="Grace", position=1, variables={"name": "Grace"})
    publishing.start_check(exercise, exercise.lesson.course.instructors.get(), "recheck")
    run_queued()
    before = PublishCheck.objects.count()
    url = f"/admin/lessons/exercise/{exercise.pk}/change/"
    data = change_page_data(admin_client, url)
    data["cases-1-DELETE"] = "on"
    assert admin_client.post(url, data).status_code == 302
    assert exercise.cases.count() == 1
    assert PublishCheck.objects.count() == before + 1


def test_a_case_changed_in_the_case_admin_checks_it_again(admin_client, exercise):
    case = exercise.cases.get()
    url = f"/admin/lessons/case/{case.pk}/change/"
    data = change_page_data(admin_client, url)
    data["weight"] = "2"
    r = admin_client.post(url, data)
    assert r.status_code == 302
    check = latest_check(exercise)
    assert (check.reason, check.status) == ("recheck", "checking")
    run_queued()
    assert latest_check(exercise).status == "passed"


def test_a_case_deleted_in_the_case_admin_checks_it_again(admin_client, exercise):
    extra = Case.objects.create(exercise=exercise, name="Grace", variables={"name": "Grace"})
    publishing.start_check(exercise, exercise.lesson.course.instructors.get(), "recheck")
    run_queued()
    before = PublishCheck.objects.count()
    r = admin_client.post(f"/admin/lessons/case/{extra.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    assert PublishCheck.objects.count() == before + 1
    # And the list's "delete selected" action.
    case = exercise.cases.get()
    r = admin_client.post(
        "/admin/lessons/case/",
        {"action": "delete_selected", "_selected_action": [case.pk], "post": "yes"},
    )
    assert r.status_code == 302 and not exercise.cases.exists()
    assert PublishCheck.objects.count() == before + 2
    assert latest_check(exercise).problems == ["There are no test cases: add at least one."]


def test_a_draft_edited_in_the_admin_is_not_checked(admin_client, instructor):
    draft = make_exercise(status=Exercise.DRAFT, slug="draft")
    url = f"/admin/lessons/exercise/{draft.pk}/change/"
    data = change_page_data(admin_client, url)
    data["temperature"] = "0.5"
    assert admin_client.post(url, data).status_code == 302
    assert not PublishCheck.objects.exists()


def test_the_admin_refuses_markdown_over_the_cap(admin_client, exercise, settings):
    settings.MAX_MARKDOWN_CHARS = 100
    lesson = exercise.lesson
    url = f"/admin/lessons/lesson/{lesson.pk}/change/"
    data = change_page_data(admin_client, url)
    data["body"] = "x" * 101
    r = admin_client.post(url, data)
    assert r.status_code == 200  # the form again, with its error
    assert "Keep it under 100 characters (it has 101)." in r.content.decode()
    lesson.refresh_from_db()
    assert lesson.body != "x" * 101


def test_the_admin_cannot_publish_a_draft_past_its_check(admin_client, instructor):
    draft = make_exercise(status=Exercise.DRAFT, slug="draft")
    url = f"/admin/lessons/exercise/{draft.pk}/change/"
    data = change_page_data(admin_client, url)
    data["status"] = Exercise.PUBLISHED
    data["title"] = "Renamed"
    assert admin_client.post(url, data).status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.title) == (Exercise.DRAFT, "Renamed")


def test_a_member_made_instructor_in_the_admin_leaves_the_courses_cohorts(admin_client, db):
    course = make_exercise().lesson.course
    cohort = Cohort.objects.create(course=course, name="Morning")
    dora = make_user("dora")
    Membership.objects.create(cohort=cohort, learner=dora)
    url = f"/admin/lessons/course/{course.pk}/change/"
    data = {**change_page_data(admin_client, url), "instructors": [dora.pk]}
    r = admin_client.post(url, data)
    assert r.status_code == 302, r.context["adminform"].form.errors
    assert list(course.instructors.all()) == [dora]
    assert not Membership.objects.exists()
