"""What a criterion can look at besides the output: the test case and the learner's prompt."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graders.judge import Judge
    from graders.results import CriterionResult
    from graders.rubric import Criterion


@dataclass(frozen=True)
class Case:
    """One test case: its variable values, an optional reference answer, per-case expectations.

    `expected` holds values that criteria refer to with `{"from_case": "<key>"}`, e.g.
    `{"label": "refund"}` or `{"answers": ["Paris", "paris, France"]}`. `visibility` is one
    of results.VISIBILITY and only matters to whoever renders the feedback.
    """

    name: str = "case"
    variables: Mapping[str, str] = field(default_factory=dict)
    reference: str = ""
    expected: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    visibility: str = "show"


@dataclass(frozen=True)
class Submission:
    """The prompt the learner wrote, rendered for one test case, beside the exercise's starter.

    `fields` and `starter` map "system", "user" and "prefill" to their template text
    (placeholders such as `{{ ticket }}` unrendered); `rendered` is the whole prompt with
    this case's variables filled in, and `rendered_fields` the same three fields as the
    model received them (empty: fall back to `fields`). `examples` are the example turns,
    (role, template text), before the user message. `fixed_variables` holds the values
    every test case shares (a long document), which Case.variables may not repeat.
    """

    fields: Mapping[str, str] = field(default_factory=dict)
    starter: Mapping[str, str] = field(default_factory=dict)
    editable: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    rendered: str = ""
    rendered_fields: Mapping[str, str] = field(default_factory=dict)
    examples: tuple[tuple[str, str], ...] = ()
    fixed_variables: Mapping[str, str] = field(default_factory=dict)

    def rendered_field(self, name: str) -> str:
        """Return a field as the model received it: rendered, or else its template text."""
        if self.rendered_fields:
            return self.rendered_fields.get(name, "")
        return self.fields.get(name, "")


def identity(text: str) -> str:
    return text


# Not frozen, and slotted: one is built per criterion per output, and frozen init costs 3×.
@dataclass(slots=True)
class Context:
    """Everything a criterion function may use besides its params and the normalised text."""

    case: Case = field(default_factory=Case)
    submission: Submission = field(default_factory=Submission)
    normalize: Callable[[str], str] = identity
    ignore_case: bool = False
    raw: str = ""  # the text before normalisation (the judge and tag extraction read this)
    field: str = ""  # the one prompt field the criterion reads (Criterion.field); "" = all
    compiled: Any = None  # what the kind's prepare() built once per criterion (regex, validator)
    children: tuple[Criterion, ...] = ()
    grade_child: Callable[[Criterion, str | None], CriterionResult] | None = None
    judge: Judge | None = None
    # The output's JSON as read so far while grading it, by the text parsed: (value, error).
    # Shared by every criterion of one grade_case call, so JSON kinds parse it once.
    parsed: dict[str, tuple[Any, str]] | None = None
