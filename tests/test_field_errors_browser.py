"""app.css: a field in error shows the red border, whatever the type of its input."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser]

APP_CSS = Path(__file__).parent.parent / "sandbox" / "static" / "sandbox" / "app.css"


def test_every_input_of_a_field_in_error_has_the_red_border(page):
    page.set_content(
        f"<style>{APP_CSS.read_text()}</style>"
        '<p id="red" style="color: var(--fail)">the red of an error</p>'
        '<div class="field has-error"><input id="text" type="text"></div>'
        '<div class="field has-error"><select id="select"><option>a</option></select></div>'
        # Temperature, max tokens, samples per case: numbers the forms refuse too.
        '<div class="field has-error"><input id="number" type="number"></div>'
        '<div class="field"><input id="fine" type="number"></div>'
    )

    def style(element_id: str, name: str) -> str:
        return page.evaluate(f"getComputedStyle(document.getElementById('{element_id}')).{name}")

    red = style("red", "color")
    for element_id in ("text", "select", "number"):
        assert style(element_id, "borderTopColor") == red, element_id
    assert style("fine", "borderTopColor") != red
