"""How values and names from result files are written, in every output format.

Result files are exchanged between people (docs/security.md), so a name may hold markup,
a table separator, a spreadsheet formula or a terminal control: `escape` makes it inert.
Numbers are written to what they can support. Below both results/ (compare, checks and
references write verdicts) and publishing/ (tables, leaderboards, pages).
"""

from __future__ import annotations

import html
import re
from typing import Any

from ganbench.runtime.conditions import MARK, caveats

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
MARKDOWN_SPECIAL = re.compile(r"([\\|*`<>\[\]])")


def escape(text: Any, fmt: str) -> str:
    """Text from a result file, made inert in `fmt`: result files are exchanged between
    people, so a name may hold markup, a table separator or a spreadsheet formula.
    Control characters (newlines, terminal escapes) become spaces in every format."""
    text = CONTROL.sub(" ", str(text))
    if fmt == "html":
        return html.escape(text, quote=True)
    if fmt == "md":
        return MARKDOWN_SPECIAL.sub(r"\\\1", text)
    if fmt == "latex":
        return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
    if fmt == "csv" and text[:1] in ("=", "+", "-", "@"):
        return "'" + text  # not a formula when the file is opened in a spreadsheet
    return text


def format_number(value: float | None) -> str:
    if value is None:
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude == 0 or magnitude >= 0.01:
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    if magnitude >= 0.001:  # a spread such as PacGAN's ± 0.007 reads as itself
        return f"{value:.3g}"
    return f"{value:.2e}"


def cell(m: dict[str, Any] | None, fmt: str) -> str:
    """`mean ± std`, marked † when the value has a caveat (conditions.notes says which)."""
    if m is None:
        return ""
    dagger = r"$\dagger$" if fmt == "latex" else MARK
    mark = f" {dagger}" if caveats(m) else ""
    if m["n"] <= 1 or m["std"] is None:
        return format_number(m["mean"]) + mark
    pm = r"$\pm$" if fmt == "latex" else "±"
    return f"{format_number(m['mean'])} {pm} {format_number(m['std'])}{mark}"
