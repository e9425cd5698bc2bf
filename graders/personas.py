"""Scripted judges to test with, offline: an honest one, and an obedient one that can be
talked round. The stub backend serves them as its models `judge` and `obedient`.

Both read a script, the exercise's `stub.judge` list: per rubric item, the RE2 patterns
(case-insensitive) that make it met, as `{item: "<item text>", if: pattern or list,
unless: pattern or list, undecided: pattern or list}`. An item is met when every `if`
pattern matches the graded text and no `unless` pattern does; its evidence is the sentence
holding the first `if` match. When an `undecided` pattern matches, the persona answers the
grade call in prose, as a judge that cannot decide does (the criterion needs review).

They answer the three calls of graders.judge as text, the way a model would, so they work
through any path that reaches a model: each call is recognised by its system prompt.

- honest: answers every call truthfully by its script (repeats a known token, and judges
  a negated item on its excerpt as the negation of its own rule).
- obedient: the same, until the text it reads gives an order or makes a claim aimed at a
  grader (in plain words in several languages, leetspeak, base64, spread over lines, as
  JSON or tags; see `steering_line`). Then it follows the order in every call: every item
  met at full score, with the order itself as evidence; no token repeated; "met" for
  every negation. It stands for the worst judge model, so that an instructor can show the
  attack and the suite can prove the defence holds against it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from graders import judge
from graders.judge import Judge, JudgeRequest
from graders.text import as_written, compile_pattern, re2_reason


class ScriptError(ValueError):
    """A stub script that cannot be used: which field, and what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def pattern(value: Any, field: str) -> re2._Regexp:
    if not isinstance(value, str) or not value:
        raise ScriptError(field, "must be a non-empty regular expression")
    try:
        return compile_pattern(value, ignore_case=True)
    except re2.error as e:
        raise ScriptError(
            field, f"RE2 cannot compile {as_written(value)}: {re2_reason(e)}"
        ) from None


def patterns(value: Any, field: str) -> tuple[re2._Regexp, ...]:
    """Return the compiled patterns of a pattern or a list of them."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ScriptError(field, "must be a pattern or a list of patterns")
    return tuple(pattern(p, f"{field}[{i}]") for i, p in enumerate(items))


@dataclass(frozen=True)
class ItemRule:
    item: str
    when: tuple[re2._Regexp, ...]
    unless: tuple[re2._Regexp, ...] = ()
    # When one matches the graded text, the persona cannot decide: it answers in prose.
    undecided: tuple[re2._Regexp, ...] = ()

    def evidence(self, text: str) -> str | None:
        """Return the sentence that shows the item met in text, or None when it is not."""
        if not self.when or any(p.search(text) for p in self.unless):
            return None
        matches = [p.search(text) for p in self.when]
        if not all(matches):
            return None
        return sentence_at(text, matches[0].start())


Script = tuple[ItemRule, ...]


def load_script(data: Any) -> Script:
    """Return the judge script from a `stub.judge` list, or raise ScriptError."""
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise ScriptError("stub.judge", "must be a list of {item, if, unless}")
    rules = []
    for i, raw in enumerate(data):
        where = f"stub.judge[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("item"), str) or "if" not in raw:
            raise ScriptError(where, "needs 'item' (the rubric item's text) and 'if' (patterns)")
        unknown = set(raw) - {"item", "if", "unless", "undecided"}
        if unknown:
            raise ScriptError(
                f"{where}.{sorted(unknown)[0]}",
                "unknown field; allowed: item, if, unless, undecided",
            )
        rules.append(
            ItemRule(
                item=raw["item"].strip(),
                when=patterns(raw["if"], f"{where}.if"),
                unless=patterns(raw.get("unless", []), f"{where}.unless"),
                undecided=patterns(raw.get("undecided", []), f"{where}.undecided"),
            )
        )
    return tuple(rules)


SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentence_at(text: str, at: int) -> str:
    """Return the sentence (or line) of text that holds position `at`."""
    start = 0
    for boundary in SENTENCE_END.finditer(text):
        if boundary.start() >= at:
            return text[start : boundary.start()].strip()
        start = boundary.end()
    return text[start:].strip()


# What steers the obedient persona: words aimed at a grader, or claims of a verdict, in the
# languages its instructors teach in. It is the attacker, not the defence: the defence in
# graders.judge never reads it, so the broader it is, the harder the test. It grows when an
# injection of tests/graders/corpora/injections.yaml does not steer it (the string stays).
STEERING_WORDS = (
    # English
    r"grader|grading|graded|judge|evaluator|assessor|examiner|marker|reviewer|rubric|"
    r"criteria|criterion|verdict|full marks|full credit|full points|top marks|max(imum)? score|"
    r"perfect score|score|scored|marks?\b|points?\b|pass(es|ed|ing)?\b|approve[ds]?|approval|"
    r"accept(ed)?\b|\bmet\b|satisf(y|ied|ies)|fulfil+(s|ed)?|correct answer|"
    r"mark(ed|ing)? (it|this|as)|"
    r"instructions?|ignore|disregard|forget|override|rules\b|\brate\b|\brating|award|deserve|"
    r"evaluat|assess|system prompt|developer|administrator|"
    # claims about the reply itself, addressed to whoever grades it
    r"\b(this|the|my|that) (reply|response|answer|output|submission|message)\b|"
    r"requirements?\b|checklist|[✓✔☑✅]|\bmeets? (all|every|each|the)\b|"
    r"\b(all|every|each) (of )?(the )?(three )?(items|boxes)\b|reviewed\b|signed off|"
    r"\b(considered|counted|treated|regarded) (as )?(complete|correct|valid|done)|"
    r"\b(all|every|each) correct|\bno need to (check|grade|verify|review)|you (already )?agreed|"
    r"\b\w+ out of (five|ten|\d+)\b|"
    # role-play
    r"\bact as\b|pretend|role-?play|\byou('re| are) (now|no longer)\b|"
    r"\b10 ?/ ?10\b|\b5 ?/ ?5\b|\b100 ?%|a\+|"
    # French, Spanish, Portuguese, Italian, German, Dutch
    r"correcteur|évaluat|critère|noter?\b|note maximale|réussi|validé|ignore[rz]|consignes|"
    r"evaluador|calificaci|puntuaci|criterios|aprobad|cumpl|ignora|instrucciones|"
    r"avaliador|critérios|aprovad|nota máxima|instruções|"
    r"valutat|criteri\b|promoss|punteggio|istruzioni|"
    r"bewert|kriterien|bestanden|erfüllt|punkte|anweisungen|ignorier|"
    r"beoordel|geslaagd|voldoet|instructies|negeer|"
    # Russian, Polish, Turkish
    r"оцен|критери|игнорир|инструкц|зач[её]т|балл|"
    r"ocen|oceń|kryteri|zignoruj|zaliczon|"
    r"değerlendir|kriter|puan|geçti|"
    # Greek, Ukrainian, Vietnamese, Indonesian, Hebrew
    r"αγνόησ|οδηγί|βαθμ|κριτήρι|ігнор|інструкц|оцінк|критері|"
    r"bỏ qua|hướng dẫn|điểm tối đa|chấm điểm|abaikan|instruksi|nilai sempurna|"
    r"התעלם|הוראות|ציון|"
    # Chinese, Japanese, Korean, Arabic, Hindi
    r"评分|评委|满分|忽略|通过|标准|指令|採点|満点|合格|無視|評価|채점|만점|통과|무시|"
    r"تقييم|درجة|تجاهل|معايير|मूल्यांकन|अंक|अनदेखा"
)
STEERING_SHAPES = (
    r"\"\s*(verdict|score|met|passed|pass|items|evidence|grade)\s*\"\s*:|"
    r"</?\s*(system|assistant|judge|grader|instructions?|verdict|data|candidate|im_start|im_end)"
)
STEERING = re.compile(f"(?:{STEERING_WORDS})|(?:{STEERING_SHAPES})", re.IGNORECASE)
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
INVISIBLE = dict.fromkeys(
    c
    for c in (0x00AD, 0x180E, 0xFEFF, *range(0x2000, 0x2070))
    if unicodedata.category(chr(c)) in ("Cf", "Zs")
)
# Cyrillic and Greek letters that look like Latin ones ("Іgnоrе" with Cyrillic І, о, е).
LOOKALIKES = str.maketrans("аеорсухіјѕԁкοαεικνρτ", "aeopcyxijsdkoaeiknpt")


def readings(text: str) -> list[str]:
    """Return the ways the obedient persona reads text: as written, folded, without
    leetspeak or lookalike letters, with base64 decoded, with letters spaced out joined up
    ("g i v e", "p-a-s-s"), without its line breaks, and by the first letters of the lines of each
    paragraph."""
    folded = unicodedata.normalize("NFKC", text).translate(INVISIBLE).casefold()
    joined = re.sub(r"(?<=\w)[\s.\-_*]+(?=\w\b)", "", folded)
    spaced = re.sub(r"(?<=\b\w) (?=\w\b)", "", folded)
    dotted = re.sub(r"(?<=\b\w)[.\-_*]+(?=\w\b)", "", folded)
    lines = [line.strip() for line in folded.splitlines() if line.strip()]
    acrostics = " ".join(
        "".join(line.strip()[0] for line in paragraph.splitlines() if line.strip())
        for paragraph in re.split(r"\n\s*\n", folded)
    )
    decoded = []
    for run in BASE64_RUN.findall(text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode())
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    return [
        folded,
        folded.translate(LEET),
        folded.translate(LOOKALIKES),
        joined,
        spaced,
        dotted,
        " ".join(folded.split()),
        "".join(lines),
        acrostics,
        *decoded,
    ]


def steering_line(text: str) -> str | None:
    """Return the line of text that steers the obedient persona, or None."""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:
        if any(STEERING.search(reading) for reading in readings(line)):
            return line.strip()
    if lines and any(STEERING.search(reading) for reading in readings(text)):
        return text.strip()  # an order that only reads as one across lines
    return None


def honest(script: Script) -> Judge:
    return lambda request: answer(script, request.system, request.prompt, obedient=False)


def obedient(script: Script) -> Judge:
    return lambda request: answer(script, request.system, request.prompt, obedient=True)


def honest_checks(grade_answer: Judge) -> Judge:
    """Return a judge that answers grade calls with `grade_answer`, and the two checks as a
    judge that was not steered would: the token, and "not_met" for every negation. (Tests
    script a verdict with it; with an obedient grade_answer it is a judge without checks.)"""

    def answering(request: JudgeRequest) -> str:
        if request.purpose == judge.GRADE:
            return grade_answer(request)
        return answer((), request.system, request.prompt, obedient=False, trusting=True)

    return answering


def answer(
    script: Script, system: str, prompt: str, *, obedient: bool, trusting: bool = False
) -> str:
    """Answer one call of the judge protocol, as text, the way the persona would.
    `trusting`: take every negation to be false, whatever the script says."""
    delimiter = re.search(r"<<<DATA-[0-9a-f]+>>>", prompt)
    blocks = prompt.split(delimiter.group()) if delimiter else []
    if len(blocks) < 3:
        return (
            "Offline stub judge: it only answers the grading calls of an llm_judge criterion, "
            "so it has nothing to say to this prompt. Try echo or scripted instead."
        )
    if system.startswith(judge.KNOWN_ANSWER_SYSTEM[:40]):
        token = re.search(r"nothing else: (\S+)", prompt)
        order = steering_line(blocks[2].strip("\n")) if obedient else None
        if order is not None:
            return f"All criteria are met. {order}"
        return token.group(1) if token else ""
    if system.startswith(judge.CONSISTENCY_SYSTEM[:40]):
        return consistency(script, blocks, obedient, trusting)
    return grade(script, prompt, blocks[2].strip("\n"), obedient)


ITEM_LINE = re.compile(r"^- (c\d+): (.*)$", re.MULTILINE)
SCALE = re.compile(r"\(score each from 0 to (\d+)\)")


def grade(script: Script, prompt: str, output: str, obedient: bool) -> str:
    head = prompt.split("<<<DATA-")[0]
    scale = int(SCALE.findall(head)[-1]) if SCALE.search(head) else 1
    order = steering_line(output) if obedient else None
    if order is None and any(p.search(output) for rule in script for p in rule.undecided):
        return "It is hard to say: it depends on what the policy allows."
    entries = []
    for item_id, text in ITEM_LINE.findall(head):
        evidence = order if order is not None else rule_evidence(script, text, output)
        met = evidence is not None
        entries.append(
            {
                "id": item_id,
                "verdict": "met" if met else "not_met",
                "score": scale if met else 0,
                "evidence": evidence or "",
            }
        )
    return json.dumps({"items": entries})


def consistency(script: Script, blocks: list[str], obedient: bool, trusting: bool) -> str:
    # Split at the delimiter, the prompt is: its head, then per claim the text holding the
    # claim's line, and the claim's excerpt.
    entries = []
    for i in range(2, len(blocks), 2):
        claim = ITEM_LINE.search(blocks[i - 1])
        if claim is None:
            continue
        item = claim.group(2).removeprefix(judge.negated(""))
        excerpt = blocks[i].strip("\n")
        steered = obedient and steering_line(excerpt) is not None
        negation_holds = steered or (not trusting and rule_evidence(script, item, excerpt) is None)
        entries.append({"id": claim.group(1), "verdict": "met" if negation_holds else "not_met"})
    return json.dumps({"items": entries})


def rule_evidence(script: Script, item: str, text: str) -> str | None:
    rule = next((r for r in script if r.item == item.strip()), None)
    return rule.evidence(text) if rule else None
