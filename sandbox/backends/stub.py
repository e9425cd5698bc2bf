"""The offline model: deterministic, no network, for classrooms without keys and for tests.

Models:
- `echo` replies with the rendered prompt itself;
- `scripted` replies by the exercise's rules: the first rule whose every `if`
  pattern matches the prompt (and no `unless` pattern does) gives the reply;
  otherwise the default reply; with no rules nor default (the playground), it says
  what it read in the prompt (graders.offline);
- `judge` and `obedient` are judges for llm_judge criteria, by the exercise's `stub.judge`
  list: an honest one and one that obeys orders in what it grades (graders.personas).

Latency and a failure rate can be simulated for tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from graders import offline, personas
from graders.personas import ScriptError as StubRuleError
from graders.personas import patterns
from sandbox.backends.base import Backend, BackendError, Completion, CompletionRequest

MODELS = ("echo", "scripted", "judge", "obedient")


@dataclass(frozen=True)
class StubRule:
    when: tuple[re2._Regexp, ...]
    unless: tuple[re2._Regexp, ...]
    reply: str

    def matches(self, prompt: str) -> bool:
        return all(p.search(prompt) for p in self.when) and not any(
            p.search(prompt) for p in self.unless
        )


@dataclass(frozen=True)
class StubScript:
    rules: tuple[StubRule, ...] = ()
    default: str = ""
    judge: personas.Script = ()
    digest: str = ""  # of the rules as written: part of the cache key of a stub reply

    def reply(self, prompt: str) -> str:
        return next((r.reply for r in self.rules if r.matches(prompt)), self.default)


def parse_script(data: Mapping[str, Any] | None) -> StubScript:
    """Return the stub script from an exercise's `stub` data, or raise StubRuleError.

    Patterns are RE2 and match case-insensitively anywhere in the rendered prompt.
    """
    if not data:
        return StubScript()
    if not isinstance(data, Mapping):
        raise StubRuleError("stub", "must be a mapping with 'rules' and 'default'")
    unknown = set(data) - {"rules", "default", "judge"}
    if unknown:
        field = f"stub.{sorted(unknown)[0]}"
        raise StubRuleError(field, "unknown field; allowed: rules, default, judge")
    default = data.get("default", "")
    if not isinstance(default, str):
        raise StubRuleError("stub.default", "must be text")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, Sequence) or isinstance(raw_rules, str):
        raise StubRuleError("stub.rules", "must be a list")
    rules = []
    for i, raw in enumerate(raw_rules):
        where = f"stub.rules[{i}]"
        if not isinstance(raw, Mapping) or "if" not in raw or "reply" not in raw:
            raise StubRuleError(where, "needs 'if' (pattern or list) and 'reply'")
        if not isinstance(raw["reply"], str):
            raise StubRuleError(f"{where}.reply", "must be text")
        unknown = set(raw) - {"if", "unless", "reply"}
        if unknown:
            raise StubRuleError(
                f"{where}.{sorted(unknown)[0]}", "unknown field; allowed: if, unless, reply"
            )
        rules.append(
            StubRule(
                when=patterns(raw["if"], f"{where}.if"),
                unless=patterns(raw.get("unless", []), f"{where}.unless"),
                reply=raw["reply"],
            )
        )
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    judge = personas.load_script(data.get("judge", []))
    return StubScript(rules=tuple(rules), default=default, judge=judge, digest=digest)


WORD = re.compile(r"\S+")


def truncate_words(text: str, limit: int) -> str:
    """Return text cut after `limit` words (the stub counts a word as a token)."""
    for count, match in enumerate(WORD.finditer(text), start=1):
        if count == limit:
            return text[: match.end()]
    return text


class StubBackend(Backend):
    label = "Offline stub"

    def __init__(
        self,
        script: StubScript | None = None,
        latency_ms: int = 0,
        failure_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.script = script or StubScript()
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def cache_scope(self) -> str:
        return self.script.digest or "offline.answer"

    def complete(self, request: CompletionRequest) -> Completion:
        if request.model not in MODELS:
            raise BackendError(
                f"The stub has no model {request.model!r}; it has {', '.join(MODELS)}.",
                permanent=True,
            )
        started = time.monotonic()
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        with self._lock:
            fails = self.failure_rate and self._random.random() < self.failure_rate
        if fails:
            raise BackendError("The stub model simulated a temporary failure.", permanent=False)
        prompt = request.prompt_text()
        if request.model in ("judge", "obedient"):
            text = personas.answer(
                self.script.judge,
                request.system,
                request.messages[-1]["content"],
                obedient=request.model == "obedient",
            )
        elif request.model == "echo":
            text = prompt
        elif self.script.rules or self.script.default:
            text = self.script.reply(prompt)
        else:
            user = [m["content"] for m in request.messages if m["role"] == "user"]
            text = offline.answer(request.system, user[-1] if user else "")
        text = truncate_words(text, request.max_tokens)
        return Completion(
            text=text,
            input_tokens=len(prompt.split()),
            output_tokens=len(text.split()),
            latency_ms=int((time.monotonic() - started) * 1000),
            model=request.model,
        )
