"""The graders' caps: sizes, nesting depths, pattern lengths and counts they accept.

graders imports no Django, so the project hands its settings in once at startup
(GRADER_<NAME> in the environment; lessons' AppConfig.ready calls configure()). Code reads
a cap when it runs (`limits.MAX_JSON_DEPTH`, never `from graders.limits import ...`), so a
configured value applies everywhere.
"""

from __future__ import annotations

MAX_OUTPUT_CHARS = 200_000  # the text a criterion reads
MAX_JSON_CHARS = 200_000  # an output parsed as JSON
MAX_SCHEMA_CHARS = 50_000  # a JSON Schema, as JSON
MAX_SIMILARITY_CHARS = 20_000  # an output or reference compared by similarity
MAX_ANSWER_CHARS = 50_000  # a judge's answer
MAX_PATTERN_CHARS = 2000  # a regex
MAX_TITLE_CHARS = 120  # the title learners read for a criterion
MAX_NEEDLES = 200  # the strings of one contains / one_of list
# Levels of arrays and objects (`[]` is 1 level, `[[1]]` 2): an output's JSON deeper than
# MAX_JSON_DEPTH fails its criterion, a schema deeper than MAX_SCHEMA_DEPTH is refused when the
# rubric loads. CEILINGS keeps both far below Python's recursion limit, so neither json.loads
# nor jsonschema (several frames a level) can raise RecursionError under them.
MAX_JSON_DEPTH = 100
MAX_SCHEMA_DEPTH = 64
MAX_DEPTH = 5  # composite criteria inside composite criteria
MAX_CHILDREN = 50  # sub-criteria of one composite criterion
MAX_SAMPLES = 50  # outputs per sample of a rubric
MAX_ITEMS = 20  # items of one judge criterion
MAX_ITEM_CHARS = 500  # one judge item
MAX_LABELLED = 200  # labelled outputs of one judge criterion
MAX_RETRIES = 3  # the most retries a judge criterion may ask for

CEILINGS = {"MAX_JSON_DEPTH": 200, "MAX_SCHEMA_DEPTH": 100, "MAX_DEPTH": 20, "MAX_RETRIES": 10}
DEFAULTS = {name: value for name, value in globals().items() if name.startswith("MAX_")}


def configure(**caps: int) -> None:
    """Set the named caps (MAX_JSON_DEPTH=50, ...), each a whole number from 1 (0 for
    MAX_RETRIES) to its ceiling; raise ValueError naming the first that is not."""
    for name, value in caps.items():
        if name not in DEFAULTS:
            raise ValueError(f"{name} is not a grader cap (one of {', '.join(DEFAULTS)})")
        low, high = (0 if name == "MAX_RETRIES" else 1), CEILINGS.get(name)
        if not isinstance(value, int) or value < low or (high is not None and value > high):
            most = f" and at most {high}" if high is not None else ""
            raise ValueError(f"{name} must be a whole number at least {low}{most}, not {value!r}")
    globals().update(caps)
