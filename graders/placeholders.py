"""What counts as a `{placeholder}` in a prompt template, which ones an exercise does not
declare, and how a template is filled in. Pure functions: the renderer (sandbox.prompting),
the attempt form and preview, course import and the exercise editor all read placeholders
here.

A placeholder is `{`, a name (an ASCII letter or `_`, then letters, digits or `_`), `}`, with
nothing else inside the braces. Doubled braces are the escape: `{{name}}` is the literal text
`{name}`, not a placeholder. Any other braces are text, as written: `{"a": 1}`, `{ name }`,
`{2x}`, `{}`, `{{"a": 1}}`.

    >>> undeclared('Summarise {notez} as {"a": 1} for {audience}.', ["notes", "audience"])
    ['notez']
    >>> fill("Write {{topic}} for {topic}.", {"topic": "cats"})
    'Write {topic} for cats.'
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# An escaped name ({{name}}, group 1) or a placeholder ({name}, group 2), read left to right.
TOKEN = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


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


def undeclared_message(template: str, declared: Collection[str]) -> str:
    """Return what to tell the author of the template about its undeclared placeholders, or
    "" when there are none."""
    names = undeclared(template, declared)
    if not names:
        return ""
    *others, last = braced(names)
    if others:
        subject = f"{', '.join(others)} and {last} are not variables"
    else:
        subject = f"{last} is not a variable"
    if not declared:
        return f"{subject} of this exercise, which has none."
    return f"{subject} of this exercise; its variables are {', '.join(braced(declared))}."


def braced(names: Collection[str]) -> list[str]:
    return ["{" + name + "}" for name in names]
