"""Grade outputs against a rubric: one pure function per criterion kind, in one dict.

An output's score is the weighted mean of its criteria (grade_case). Samples are combined
into a case, and cases into an attempt, in graders.scoring (grade_attempt), which uses
aggregate below for the last step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from graders import compose, judge, limits, prompt, reuse, similarity, structure, text
from graders.context import Case, Context, Submission, identity
from graders.judge import Judge
from graders.kinds import Kind, Param
from graders.null_answers import null_answer
from graders.results import (
    ERROR,
    NEEDS_REVIEW,
    OK,
    UNAVAILABLE,
    CaseGrade,
    Check,
    CriterionResult,
    Decision,
    Grade,
    worst_status,
)
from graders.rubric import Criterion, Rubric

NUMBER = (int, float)
JSON_VALUE = (str, int, float, bool, list, dict, type(None))

ALLOW_FENCE = Param(
    "allow_fence",
    (bool,),
    required=False,
    default=False,
    help="also accept JSON inside a ``` fenced code block",
)
SUB_CRITERIA = Param(
    "criteria", (list,), items=(dict,), help="sub-criteria: each a criterion mapping (id optional)"
)
THRESHOLD = Param("threshold", NUMBER, help="the least similarity that passes, from 0 to 1")
REFERENCE = Param(
    "reference",
    (str,),
    required=False,
    from_case=True,
    help="the text to compare with; default: the test case's reference answer",
)


def range_params(unit: str) -> tuple[Param, Param]:
    return (
        Param("min", NUMBER, required=False, help=f"the fewest {unit} allowed"),
        Param("max", NUMBER, required=False, help=f"the most {unit} allowed"),
    )


CRITERIA: dict[str, Kind] = {
    # Text
    "equals": Kind(
        text.equals,
        (
            Param(
                "text",
                (str, list),
                items=(str,),
                from_case=True,
                help="the exact expected text, or a list of acceptable texts",
            ),
        ),
        "The text is exactly a given text, or one of several (after normalisation).",
        extra=text.check_needles,
        normalises="the expected texts are normalised the same way",
        strip=False,
    ),
    "contains": Kind(
        text.contains,
        (Param("text", (str,), from_case=True, help="the text to find"),),
        "The text contains a given piece of text.",
        normalises="the text to find is normalised the same way",
    ),
    "not_contains": Kind(
        text.not_contains,
        (Param("text", (str,), from_case=True, help="the text that must not appear"),),
        "The text does not contain a given piece of text.",
        normalises="the forbidden text is normalised the same way",
    ),
    "contains_any": Kind(
        text.contains_any,
        (
            Param(
                "texts",
                (list,),
                items=(str,),
                from_case=True,
                help="the texts, any one of which must appear",
            ),
        ),
        "The text contains at least one of several texts.",
        extra=text.check_needles,
        normalises="the texts are normalised the same way",
    ),
    "contains_all": Kind(
        text.contains_all,
        (
            Param(
                "texts",
                (list,),
                items=(str,),
                from_case=True,
                help="the texts that must all appear",
            ),
        ),
        "The text contains every one of several texts.",
        extra=text.check_needles,
        normalises="the texts are normalised the same way",
    ),
    "starts_with": Kind(
        text.starts_with,
        (
            Param(
                "text",
                (str, list),
                items=(str,),
                from_case=True,
                help="the expected beginning, or a list of acceptable beginnings",
            ),
        ),
        "The text starts with a given text.",
        extra=text.check_needles,
        normalises="the beginnings are normalised the same way",
        strip=False,
    ),
    "ends_with": Kind(
        text.ends_with,
        (
            Param(
                "text",
                (str, list),
                items=(str,),
                from_case=True,
                help='the expected ending, or a list of them (["?"] checks the last character)',
            ),
        ),
        "The text ends with a given text, such as its last character.",
        extra=text.check_needles,
        normalises="the endings are normalised the same way",
        strip=False,
    ),
    "regex": Kind(
        text.regex,
        (
            Param(
                "pattern",
                (str,),
                from_case=True,
                help="an RE2 regular expression, searched anywhere",
            ),
        ),
        "The text matches a regular expression (RE2 syntax: linear time, no backreferences).",
        extra=text.check_pattern,
        prepare=text.prepare_pattern,
        normalises="ignore_case also makes the pattern case-insensitive; "
        "^ and $ match at the ends of the whole text",
    ),
    "one_of": Kind(
        text.one_of,
        (Param("labels", (list,), items=(str,), from_case=True, help="the allowed labels"),),
        "The whole text is exactly one of the labels (a classification answer).",
        extra=text.check_needles,
        normalises="the labels are normalised the same way; punctuation is never forgiven",
    ),
    "length": Kind(
        text.length,
        (
            Param(
                "unit",
                (str,),
                required=False,
                default="words",
                choices=text.LENGTH_UNITS,
                help="characters, words, lines or sentences",
            ),
            *range_params("units"),
            Param(
                "count_blank",
                (bool,),
                required=False,
                default=False,
                help="with unit: lines, count blank lines too (default: only non-blank lines)",
            ),
        ),
        "The length in characters, words, lines or sentences lies within a range.",
        extra=text.check_range,
        normalises="lines count only non-blank lines unless count_blank: true; "
        "words are runs of non-space characters; a sentence ends at . ! or ? and a space",
        strip=False,
    ),
    "word_count": Kind(
        text.word_count,
        range_params("words"),
        "The number of words lies within a range (same as length with unit: words).",
        extra=text.check_range,
        normalises="words are runs of non-space characters, so spacing never changes the count",
    ),
    "forbidden_words": Kind(
        text.forbidden_words,
        (
            Param(
                "words",
                (list,),
                items=(str,),
                help="words or phrases that must not appear as whole words",
            ),
        ),
        "None of the forbidden words or phrases appears as a whole word.",
        extra=text.check_needles,
        prepare=text.prepare_words,
        normalises="the words are normalised the same way and match only whole words",
    ),
    # Structure
    "valid_json": Kind(
        structure.valid_json,
        (ALLOW_FENCE,),
        "The text is valid JSON.",
        normalises="reads the output as it came, whitespace at both ends ignored; "
        "allow_fence reads a fenced block",
        options=False,
    ),
    "json_schema": Kind(
        structure.json_schema,
        (
            Param(
                "schema",
                (dict,),
                help="a JSON Schema (draft 2020-12 unless $schema says otherwise); "
                "only local $refs",
            ),
            ALLOW_FENCE,
        ),
        "The text is JSON matching a JSON Schema.",
        extra=structure.check_schema,
        prepare=structure.prepare_schema,
        normalises="reads the output as it came, whitespace at both ends ignored; "
        "values compare as the schema says",
        options=False,
    ),
    "json_path_exists": Kind(
        structure.json_path_exists,
        (Param("path", (str,), help="where to look, e.g. $.order.items[0].sku"), ALLOW_FENCE),
        "The JSON has a value at a path.",
        extra=structure.check_path,
        normalises="reads the output as it came, whitespace at both ends ignored",
        options=False,
    ),
    "json_path_equals": Kind(
        structure.json_path_equals,
        (
            Param("path", (str,), help="where to look, e.g. $.sentiment"),
            Param("value", JSON_VALUE, from_case=True, help="the expected JSON value"),
            ALLOW_FENCE,
        ),
        "The JSON value at a path equals a given value (strings after normalisation).",
        extra=structure.check_path,
        normalises="applies to string values only (the found one and the expected one); "
        "numbers, booleans and null compare exactly",
    ),
    "xml_tag": Kind(
        structure.xml_tag,
        (
            Param("tag", (str,), help="the tag name, e.g. answer for <answer>…</answer>"),
            Param(
                "criteria",
                (list,),
                items=(dict,),
                required=False,
                default=[],
                help="sub-criteria applied to the text inside the tag; all must pass",
            ),
            Param(
                "occurrence",
                (str,),
                required=False,
                default="first",
                choices=("first", "last"),
                help="which tag to read when there are several",
            ),
        ),
        "The text has an XML-style tag, and the text inside it meets sub-criteria.",
        extra=structure.check_tag,
        nested=True,
        normalises="finds the tag in the output as it came; "
        "each sub-criterion normalises the text inside it as it says",
        options=False,
    ),
    "markdown_list": Kind(
        structure.markdown_list,
        (
            Param("min_items", (int,), required=False, default=1, help="the fewest list items"),
            Param(
                "ordered",
                (bool, type(None)),
                required=False,
                default=None,
                help="true: numbered only; false: bullets only; null: either",
            ),
        ),
        "The text has a markdown list.",
        normalises="reads the output as it came, line by line",
        options=False,
    ),
    "markdown_table": Kind(
        structure.markdown_table,
        (
            Param("min_rows", (int,), required=False, default=1, help="the fewest body rows"),
            Param("min_columns", (int,), required=False, default=2, help="the fewest columns"),
        ),
        "The text has a markdown table.",
        normalises="reads the output as it came, line by line",
        options=False,
    ),
    # Similarity to the reference
    "levenshtein": Kind(
        similarity.levenshtein,
        (THRESHOLD, REFERENCE),
        "The text is close to the reference answer by normalised edit distance.",
        extra=similarity.check_threshold,
        normalises="the reference is normalised the same way",
    ),
    "rouge_l": Kind(
        similarity.rouge_l,
        (THRESHOLD, REFERENCE),
        "The text overlaps the reference answer by ROUGE-L (longest common word subsequence, F1).",
        extra=similarity.check_threshold,
        normalises="the reference is normalised the same way; "
        "only words (letters and digits) are compared, punctuation ignored",
    ),
    "semantic_similarity": Kind(
        similarity.semantic,
        (THRESHOLD, REFERENCE),
        "The text means the same as the reference answer, by a local embedding model (optional).",
        extra=similarity.check_threshold,
        negatable=False,
        normalises="the reference is normalised the same way",
    ),
    # The learner's prompt
    "uses_variables": Kind(
        prompt.uses_variables,
        (
            Param(
                "variables",
                (list,),
                items=(str,),
                required=False,
                default=[],
                help="the variables to check; default: every variable the exercise declares",
            ),
        ),
        "The prompt uses every declared variable.",
        reads="prompt",
        normalises="looks for {name} (not the escape {{name}}) in the template text, "
        "or the case's value in the rendered prompt",
        options=False,
    ),
    "no_hardcoded_answer": Kind(
        prompt.no_hardcoded_answer,
        (
            Param(
                "keys",
                (list,),
                items=(str,),
                required=False,
                default=["reference"],
                help='which expected values to look for; "reference" is the reference answer',
            ),
            Param(
                "min_chars",
                (int,),
                required=False,
                default=12,
                help="ignore answers shorter than this (labels belong in instructions)",
            ),
        ),
        "The prompt does not contain a test case's expected answer verbatim.",
        reads="prompt",
        negatable=False,
        normalises="the rendered prompt and the answers are normalised the same way",
    ),
    "prompt_budget": Kind(
        prompt.prompt_budget,
        (
            Param(
                "max_chars",
                (int,),
                required=False,
                help="the most characters in the rendered prompt",
            ),
            Param(
                "max_tokens",
                (int,),
                required=False,
                help="the most tokens (estimated) in the rendered prompt",
            ),
        ),
        "The rendered prompt stays under a length or token budget.",
        extra=prompt.check_budget,
        reads="prompt",
        normalises="tokens are estimated (words and punctuation, or characters / 4)",
    ),
    "only_editable_changed": Kind(
        prompt.only_editable_changed,
        (
            Param(
                "editable",
                (list,),
                items=(str,),
                required=False,
                help="the fields that may change; default: the exercise's editable fields",
            ),
        ),
        "Only the editable fields differ from the starter prompt.",
        reads="prompt",
        negatable=False,
        normalises="each field and its starter are normalised the same way before comparing",
        fields=(),
    ),
    "words_changed": Kind(
        prompt.words_changed,
        (Param("at_most", (int,), help="the most words that may differ from the starter"),),
        "The learner changed at most so many words of the starter (word-level edit distance), "
        "in one field or in system, user and prefill together.",
        reads="prompt",
        normalises="words are runs of non-space characters, so spacing alone changes nothing",
        fields=prompt.TEXT_FIELDS,
    ),
    "delimited_input": Kind(
        prompt.delimited_input,
        (
            Param("variable", (str,), help="the variable holding untrusted input"),
            Param(
                "tag",
                (str,),
                required=False,
                help="require this tag name, e.g. ticket for <ticket>",
            ),
        ),
        "Untrusted input is wrapped in delimiters in the prompt.",
        reads="prompt",
        normalises="reads the template text, and the rendered prompt where the case's value "
        "appears, as they came",
        options=False,
    ),
    # Composition
    "all_of": Kind(
        compose.all_of,
        (SUB_CRITERIA,),
        "Every sub-criterion passes.",
        extra=compose.check_children,
        nested=True,
        normalises="none itself: each sub-criterion applies its own",
        options=False,
    ),
    "any_of": Kind(
        compose.any_of,
        (SUB_CRITERIA,),
        "At least one sub-criterion passes.",
        extra=compose.check_children,
        nested=True,
        normalises="none itself: each sub-criterion applies its own",
        options=False,
    ),
    "none_of": Kind(
        compose.none_of,
        (SUB_CRITERIA,),
        "No sub-criterion passes.",
        extra=compose.check_children,
        nested=True,
        normalises="none itself: each sub-criterion applies its own",
        options=False,
    ),
    # LLM judge
    "llm_judge": Kind(
        judge.llm_judge,
        (
            Param(
                "model",
                (str,),
                help="the judge model: backend:model, or a model of the exercise's backend",
            ),
            Param(
                "items",
                (list,),
                items=(str,),
                help="natural-language rubric items, judged one by one",
            ),
            Param(
                "scale",
                (int,),
                required=False,
                default=5,
                help="each item is scored from 0 to scale",
            ),
            Param(
                "threshold",
                NUMBER,
                required=False,
                default=4,
                help="the mean item score that passes, from 0 to scale",
            ),
            Param(
                "instructions",
                (str,),
                required=False,
                default="",
                help="the task the output answers, shown to the judge",
            ),
            Param(
                "retries",
                (int,),
                required=False,
                default=1,
                help="how many times to ask again after a bad answer (0 to 3)",
            ),
            Param(
                "requires",
                (list,),
                items=(str,),
                required=False,
                default=[],
                help="ids of cheaper criteria before it: when one fails, the judge is not asked",
            ),
            Param(
                "labelled",
                (list,),
                items=(dict,),
                required=False,
                default=[],
                help="outputs an instructor labelled met or not, for calibrate_judge",
            ),
        ),
        "A judge model scores natural-language rubric items (checked for being steered).",
        extra=judge.check_judge_params,
        negatable=False,
        normalises="the judge reads the output as it came",
        options=False,
    ),
}

WHITESPACE = re.compile(r"\s+")


def normalizer(criterion: Criterion) -> Callable[[str], str]:
    """Return the criterion's normalisation: collapse whitespace, then strip, then case-fold.

    The common cases are single C calls rather than a closure that tests each option.
    """
    collapse, strip, fold = criterion.collapse_whitespace, criterion.strips, criterion.ignore_case
    if not collapse:
        if strip and fold:
            return lambda value: value.strip().casefold()
        if strip:
            return str.strip
        if fold:
            return str.casefold
        return identity

    def normalize(value: str) -> str:
        value = WHITESPACE.sub(" ", value)
        if strip:
            value = value.strip()
        if fold:
            value = value.casefold()
        return value

    return normalize


def grade_criterion(
    criterion: Criterion,
    output: str,
    case: Case,
    submission: Submission,
    *,
    judge: Judge | None = None,
    with_prefill: bool = False,
    subject: str | None = None,
) -> CriterionResult:
    """Return the result of one criterion on one output (or on the prompt, per its target).

    `subject`, when given, replaces what the criterion would read (xml_tag passes the text
    inside its tag). The output is the model's continuation; with_prefill puts the
    submission's prefill before it.
    """
    check = criterion_check(criterion, output, case, submission, judge, with_prefill, subject, {})
    return criterion_result(criterion, check, check.detail)


def criterion_result(
    criterion: Criterion, check: Check, detail: str, fingerprint: str = ""
) -> CriterionResult:
    return CriterionResult.build(
        id=criterion.id,
        kind=criterion.kind,
        passed=check.passed,
        score=min(1.0, max(0.0, check.value)),
        weight=criterion.weight,
        feedback=criterion.on_pass if check.passed else criterion.on_fail,
        detail=detail,
        visible=criterion.visible,
        status=check.status,
        suspected_injection=check.suspected_injection,
        fingerprint=fingerprint,
        rationale=check.detail if detail != check.detail else "",
    )


def criterion_check(
    criterion: Criterion,
    output: str,
    case: Case,
    submission: Submission,
    judge: Judge | None,
    with_prefill: bool,
    subject: str | None,
    parsed: dict[str, tuple[Any, str]],
) -> Check:
    """Return the check of one criterion; `parsed` holds the JSON read so far for this output."""
    kind = CRITERIA[criterion.kind]
    if subject is None:
        if kind.reads == "prompt" or criterion.target == "prompt":
            subject = prompt.rendered_text(submission, criterion.field)
        else:
            prefill = criterion.with_prefill if criterion.with_prefill is not None else with_prefill
            # The prefill as the model received it (rendered for this case), not its template.
            subject = submission.rendered_field("prefill") + output if prefill else output
    return run_check(
        criterion, kind, subject, output, case, submission, judge, with_prefill, parsed
    )


def run_check(
    criterion: Criterion,
    kind: Kind,
    subject: str,
    output: str,
    case: Case,
    submission: Submission,
    judge: Judge | None,
    with_prefill: bool,
    parsed: dict[str, tuple[Any, str]],
) -> Check:
    if len(subject) > limits.MAX_OUTPUT_CHARS:
        return Check(
            False, f"the {criterion.target} is longer than {limits.MAX_OUTPUT_CHARS} characters"
        )
    params = criterion.params
    compiled = criterion.compiled
    if criterion.case_params:
        resolved = kind.resolve(params, criterion.case_params, case)
        if isinstance(resolved, str):
            return Check(False, resolved, status=ERROR)
        params = resolved
        compiled = kind.prepare(params, criterion) if kind.prepare else None

    grade_child = None
    if criterion.children:
        # A composite's own with_prefill is its sub-criteria's default.
        inherited = criterion.with_prefill if criterion.with_prefill is not None else with_prefill

        def grade_child(child: Criterion, child_subject: str | None) -> CriterionResult:
            check = criterion_check(
                child, output, case, submission, judge, inherited, child_subject, parsed
            )
            return criterion_result(child, check, check.detail)

    ctx = Context(
        case=case,
        submission=submission,
        normalize=criterion.normalize,
        ignore_case=criterion.ignore_case,
        raw=subject,
        field=criterion.field,
        compiled=compiled,
        children=criterion.children,
        grade_child=grade_child,
        judge=judge,
        parsed=parsed,
    )
    check = kind.check(params, criterion.normalize(subject), ctx)
    if criterion.negate and check.status == OK:
        check = Check(
            not check.passed,
            f"(negated) {check.detail}",
            1 - check.value,
            suspected_injection=check.suspected_injection,
        )
    return check


REFERENCE_WINDOW = 30


class ReferenceHider:
    """Blank out any 30-character stretch of a test case's reference answer from a detail.

    Kinds never quote the reference, but an excerpt of an output that copies it would:
    the reference of a hidden test case must not reach the learner's page.

    >>> ReferenceHider("The capital of France is Paris, of course.").hide(
    ...     'found "The capital of France is Paris, of course." in the output')
    'found "[reference answer hidden]" in the output'
    """

    def __init__(self, reference: str) -> None:
        self.reference = reference.casefold()
        # A shared 30-character stretch holds one of the reference's 15-character chunks at
        # offsets 0, 15, 30…: find those (C-speed), then grow each hit while both texts agree.
        half = REFERENCE_WINDOW // 2
        self.chunks = (
            [
                (offset, self.reference[offset : offset + half])
                for offset in range(0, len(self.reference) - half + 1, half)
            ]
            if len(reference) >= REFERENCE_WINDOW
            else []
        )

    def hide(self, detail: str) -> str:
        if not self.chunks or len(detail) < REFERENCE_WINDOW:
            return detail
        folded, reference = detail.casefold(), self.reference
        if len(folded) != len(detail):  # casefold changed lengths ("ß" → "ss"): match as written
            folded = detail
        spans: list[tuple[int, int]] = []
        for offset, chunk in self.chunks:
            at = folded.find(chunk)
            while at >= 0:
                start = at - offset
                if start >= 0 and folded.startswith(reference, start):
                    # The whole reference is copied here: the character loops below would grow
                    # the hit to exactly this span, so take it at C speed.
                    spans.append((start, start + len(reference)))
                    at = folded.find(chunk, at + 1)
                    continue
                left, right, ref_left, ref_right = at, at + len(chunk), offset, offset + len(chunk)
                while left and ref_left and folded[left - 1] == reference[ref_left - 1]:
                    left, ref_left = left - 1, ref_left - 1
                while (
                    right < len(folded)
                    and ref_right < len(reference)
                    and folded[right] == reference[ref_right]
                ):
                    right, ref_right = right + 1, ref_right + 1
                if right - left >= REFERENCE_WINDOW:
                    spans.append((left, right))
                at = folded.find(chunk, at + 1)
        if not spans:
            return detail
        pieces, at = [], 0
        for left, right in sorted(spans):
            if right <= at:
                continue
            if left >= at:
                pieces += [detail[at:left], "[reference answer hidden]"]
            at = right
        return "".join([*pieces, detail[at:]])


@lru_cache(maxsize=1024)
def reference_hider(reference: str) -> ReferenceHider:
    """Return the hider of a reference, built once: the same cases are graded again and again."""
    return ReferenceHider(reference)


def grade_case(
    rubric: Rubric,
    output: str,
    case: Case | None = None,
    submission: Submission | None = None,
    *,
    judge: Judge | None = None,
    previous: Mapping[str, Mapping[str, Any]] | None = None,
    decisions: Mapping[str, Decision] | None = None,
    keep_stored: bool = False,
) -> CaseGrade:
    """Return the grade of one output: the weighted mean of its criteria, and pass or fail.

    A criterion whose status is "unavailable" counts as 0, or is left out of the mean when
    the rubric says `unavailable: skip`. One that "needs_review" always counts as 0 and
    marks the case for review.

    `previous` holds the stored results (CriterionResult.to_dict()) of an earlier grading of
    this same output, by criterion id: a criterion that calls a model is taken from it,
    without a model call, when its fingerprint is unchanged and its status was "ok"
    (graders.reuse). `decisions` holds instructors' verdicts on this output, by criterion id:
    a decided criterion is what they decided (status "ok"), and calls no model. With
    `keep_stored`, a stored result of a model-calling criterion is reused whatever its status
    when its fingerprint is unchanged (what applying a decision, and nothing else, needs).
    A null answer (graders.null_answers) scores 0 on every criterion that reads the output.
    """
    case = case or Case()
    submission = submission or Submission()
    hide = reference_hider(case.reference).hide if len(case.reference) >= REFERENCE_WINDOW else None
    with_prefill = rubric.with_prefill
    parsed: dict[str, tuple[Any, str]] = {}  # the output's JSON, read once for every JSON kind
    models = rubric.model_criteria  # usually empty: then nothing below looks at it
    empty = null_answer(output)
    results_list = []
    for criterion in rubric.criteria:
        fingerprint = ""
        model = models.get(criterion.id) if models else None
        if model is not None:
            fingerprint = reuse.fingerprint(model, output, case, submission)
        decision = decisions.get(criterion.id) if decisions else None
        if decision is not None:
            check = Check(passed=decision.met, detail=decision.detail)
            results_list.append(criterion_result(criterion, check, check.detail, fingerprint))
            continue
        if empty and criterion.target == "output" and CRITERIA[criterion.kind].reads == "output":
            check = Check(False, f"nothing to grade: {empty}")
            results_list.append(criterion_result(criterion, check, check.detail, fingerprint))
            continue
        unmet = unmet_requirements(criterion, results_list)
        if unmet:
            check = Check(False, f"not judged: it requires {unmet}, which did not pass")
            # Marked so it is never reused for a judged verdict once its requirements pass.
            unjudged = f"{fingerprint}{reuse.UNJUDGED}" if fingerprint else ""
            results_list.append(criterion_result(criterion, check, check.detail, unjudged))
            continue
        if model is not None:
            stored = previous.get(criterion.id) if previous else None
            if stored is not None and reuse.reusable(stored, fingerprint, keep_stored):
                results_list.append(reuse.reused(criterion, stored))
                continue
        check = criterion_check(
            criterion, output, case, submission, judge, with_prefill, None, parsed
        )
        detail = check.detail if hide is None else hide(check.detail)
        results_list.append(criterion_result(criterion, check, detail, fingerprint))
    results = tuple(results_list)
    skip = rubric.unavailable == "skip"
    score = weighted_mean(
        (r.score, 0.0 if skip and r.status == UNAVAILABLE else r.weight) for r in results
    )
    status = worst_status([r.status for r in results])
    return CaseGrade(
        score=score,
        passed=score >= rubric.pass_threshold and status != NEEDS_REVIEW,
        criteria=results,
        status=status,
        suspected_injection=any(r.suspected_injection for r in results),
    )


def unmet_requirements(criterion: Criterion, before: list[CriterionResult]) -> str:
    """Return the ids of the criteria an llm_judge `requires` that did not pass, or ""
    (load_rubric made sure they come before it)."""
    required = criterion.params.get("requires") if criterion.kind == "llm_judge" else None
    if not required:
        return ""
    return ", ".join(r.id for r in before if r.id in required and not r.passed)


def aggregate(rubric: Rubric, grades: Iterable[tuple[CaseGrade, float]]) -> Grade:
    """Return the attempt's grade from (case grade, case weight) pairs: the weighted mean,
    passing at the threshold (and, with require_all_cases, only if every case passed);
    never passed when a case needs review. grade_attempt calls it: use that."""
    pairs = list(grades)
    score = weighted_mean((g.score, w) for g, w in pairs)
    passed = score >= rubric.pass_threshold
    if rubric.require_all_cases:
        passed = passed and all(g.passed for g, _ in pairs)
    status = worst_status([g.status for g, _ in pairs])
    return Grade(
        score=score,
        passed=passed and status != NEEDS_REVIEW,
        cases=tuple(g for g, _ in pairs),
        status=status,
        suspected_injection=any(g.suspected_injection for g, _ in pairs),
    )


def weighted_mean(pairs: Iterable[tuple[float, float]]) -> float:
    total = weight = 0.0
    for value, w in pairs:
        total += value * w
        weight += w
    return round(total / weight, 6) if weight else 0.0
