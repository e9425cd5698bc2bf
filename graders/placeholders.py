"""What counts as a `{placeholder}` in a prompt template, and which ones an exercise does not
declare. Pure functions: the renderer (sandbox.prompting), the attempt form and preview, and
later course import and the editor all read placeholders here.

A placeholder is `{`, a name (an ASCII letter or `_`, then letters, digits or `_`), `}`, with
nothing else inside the braces. There is no escape: `{{name}}` holds the placeholder `{name}`.
Any other braces are text: `{"a": 1}`, `{ name }`, `{2x}`, `{}`.

    >>> undeclared('Summarise {notez} as {"a": 1} for {audience}.', ["notes", "audience"])
    ['notez']
"""

from __future__ import annotations

import re
from collections.abc import Collection

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """Return the names of the template's placeholders, each once, in order of appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


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
