"""What counts as a `{placeholder}` in a prompt template, which ones an exercise does not
declare, and how a template is filled in. Pure functions: the renderer (sandbox.prompting),
the attempt form and preview, course import and the exercise editor all read placeholders
here.

A placeholder is `{`, a name (an ASCII letter or `_`, then letters, digits or `_`), `}`, with
nothing else inside the braces. Doubled braces are the escape: `{{name}}` is the literal text
`{name}`, not a placeholder. Any other braces are text, as written: `{"a": 1}`, `{ name }`,
`{2x}`, `{}`, `{{"a": 1}}`. A declared name that only reads as a placeholder (a zero-width
space inside, full-width braces or letters, a Cyrillic or Greek look-alike letter) is text too,
and named to the author like an undeclared one: they look the same on the page.

    >>> undeclared('Summarise {notez} as {"a": 1} for {audience}.', ["notes", "audience"])
    ['notez']
    >>> fill("Write {{topic}} for {topic}.", {"topic": "cats"})
    'Write {topic} for cats.'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# An escaped name ({{name}}, group 1) or a placeholder ({name}, group 2), read left to right.
TOKEN = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Single braces, ASCII or full-width, round a short word: what may be a placeholder disguised.
BRACED = re.compile(r"(?<![{\uff5b])[{\uff5b][^{}\uff5b\uff5d\s]{1,100}[}\uff5d](?![}\uff5d])")


def placeholders(template: str) -> list[str]:
    """Return the names of the template's placeholders, each once, in order of appearance."""
    return list(dict.fromkeys(m.group(2) for m in TOKEN.finditer(template) if m.group(2)))


def fill(template: str, variables: Mapping[str, str]) -> str:
    """Return the template with each placeholder of a variable replaced by its value and each
    escaped `{{name}}` written `{name}`; any other placeholder stays as written."""

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return "{" + escaped + "}"
        return str(variables[name]) if name in variables else match.group(0)

    return TOKEN.sub(replace, template)


def undeclared(template: str, declared: Collection[str]) -> list[str]:
    """Return the template's placeholders that are not declared: the model would see them
    as written, braces and all."""
    return [name for name in placeholders(template) if name not in declared]


def disguised(template: str, declared: Collection[str]) -> list[str]:
    """Return the names of declared variables written with an invisible character (a zero-width
    space, a direction mark), a compatibility form (full-width braces or letters) or a letter
    of another script in or round the name: it reads as `{name}`, but is text, which the
    model would see unfilled."""
    found = []
    for match in BRACED.finditer(template):
        folded = unicodedata.normalize("NFKC", match.group(0))
        folded = "".join(c for c in folded if unicodedata.category(c) != "Cf")
        if PLACEHOLDER.fullmatch(match.group(0)):
            continue
        found += [name for name in declared if looks_like(folded[1:-1], name)]
    return list(dict.fromkeys(found))


def looks_like(written: str, name: str) -> bool:
    """Whether `written` is `name`, or `name` with letters from another script in its place
    (a Cyrillic "а" for "a", a Greek "ο" for "o"): it differs only where it is not ASCII, and
    keeps some of its letters (a word wholly of another script, {имя}, is a word)."""
    if len(written) != len(name):
        return False
    pairs = list(zip(written, name, strict=True))
    return any(w == n for w, n in pairs) and all(w == n or stands_for(w, n) for w, n in pairs)


def stands_for(written: str, letter: str) -> bool:
    """Whether a character not ASCII may stand for `letter`: not an accented form of another
    ASCII letter ({cité} is a word, not {city}; {namé} may be {name})."""
    base = unicodedata.normalize("NFKD", written)[:1]
    return not written.isascii() and (not base.isascii() or base == letter)


def undeclared_message(template: str, declared: Collection[str]) -> str:
    """Return what to tell the author of the template about its undeclared placeholders (and
    declared ones disguised), or "" when there are none."""
    names = undeclared(template, declared)
    if not names:
        return disguised_message(template, declared)
    *others, last = braced(names)
    if others:
        subject = f"{', '.join(others)} and {last} are not variables"
    else:
        subject = f"{last} is not a variable"
    if not declared:
        return f"{subject} of this exercise, which has none."
    message = f"{subject} of this exercise; its variables are {', '.join(braced(declared))}."
    return " ".join(filter(None, [message, disguised_message(template, declared)]))


def disguised_message(template: str, declared: Collection[str]) -> str:
    names = braced(disguised(template, declared))
    if not names:
        return ""
    holds = "they hold" if len(names) > 1 else "it holds"
    return (
        f"Type {', '.join(names)} again: as written {holds} an invisible or look-alike "
        "character, so it is text the model would see unfilled."
    )


def braced(names: Collection[str]) -> list[str]:
    return ["{" + name + "}" for name in names]
