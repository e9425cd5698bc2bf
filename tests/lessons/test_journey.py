"""lessons.journey: the next exercise to do, and the one button that leads to it (Start,
Continue, Review) on the home and the course page."""

from __future__ import annotations

from lessons.journey import next_after, next_exercise, standings
from lessons.models import Course, Exercise
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise


def numbered(n: int) -> list[Exercise]:
    return [Exercise(id=i, slug=f"e{i}") for i in range(1, n + 1)]


def test_the_next_exercise_is_the_first_not_passed():
    one, two, three = numbered(3)
    assert next_exercise([one, two, three], set()) == one
    assert next_exercise([one, two, three], {1}) == two


def test_an_unpassed_exercise_worked_on_last_is_resumed():
    one, two, three = numbered(3)
    assert next_exercise([one, two, three], set(), last=two) == two


def test_after_the_last_one_worked_on_it_leads_on_then_back_to_those_skipped():
    exercises = numbered(4)
    one, two, three, four = exercises
    assert next_exercise(exercises, {1, 3}, last=three) == four
    assert next_exercise(exercises, {1, 3, 4}, last=four) == two


def test_there_is_none_when_all_are_passed():
    exercises = numbered(2)
    assert next_exercise(exercises, {1, 2}, last=exercises[1]) is None


def graded(learner, exercise, passed: bool) -> None:
    make_attempt(learner, exercise, status=Attempt.GRADED, score=float(passed), passed=passed)
    refresh(learner.pk, exercise.pk)  # as the worker does on grading


def test_the_button_says_start_then_continue_then_review(learner, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    course = Course.objects.get(slug="basics")

    def standing():
        return standings(learner, [course])[course.id]

    assert (standing().action, standing().target) == ("Start", exercise)
    graded(learner, exercise, passed=False)
    assert (standing().action, standing().target) == ("Continue", exercise)
    graded(learner, exercise, passed=True)
    assert (standing().action, standing().target) == ("Continue", second)
    assert (standing().passed_count, standing().total, standing().percent) == (1, 2, 50)
    graded(learner, second, passed=True)
    assert (standing().action, standing().target, standing().next) == ("Review", exercise, None)


def test_drafts_do_not_count(learner, exercise):
    make_exercise(slug="draft", status=Exercise.DRAFT)
    course = Course.objects.get(slug="basics")
    assert standings(learner, [course])[course.id].total == 1


def test_after_a_pass_it_leads_to_the_next_exercise_or_none_at_the_end(learner, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    assert next_after(exercise, learner) == second
    graded(learner, exercise, passed=True)
    assert next_after(second, learner) is None


def test_the_home_and_the_course_page_show_the_standing(alice_client, learner, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    for page in ("/", "/courses/basics/"):
        html = alice_client.get(page).content.decode()
        assert f'href="{exercise.get_absolute_url()}" data-action="start">Start' in html, page
        assert "0 of 2 exercises passed" in html
        assert 'aria-label="Progress in Basics: 0 of 2 exercises passed"' in html
    graded(learner, exercise, passed=True)
    for page in ("/", "/courses/basics/"):
        html = alice_client.get(page).content.decode()
        assert f'href="{second.get_absolute_url()}" data-action="continue">Continue' in html, page
        assert "1 of 2 exercises passed" in html
        assert "Next: Greet twice" in html
