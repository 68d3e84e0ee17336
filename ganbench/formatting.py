"""How values and names from result files are written, in every output format.

Result files are exchanged between people (docs/security.md), so a name may hold markup,
a table separator, a spreadsheet formula or a terminal control: `escape` makes it inert.
Numbers are written to what they can support. Below both results/ (compare, checks and
references write verdicts) and publishing/ (tables, leaderboards, pages).
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import sys
from typing import Any, TextIO

from ganbench.runtime.conditions import MARK, caveats

#: C0 and C1 controls (newlines, ESC, U+009B CSI: terminal escapes), and the characters
#: that reorder or break text where it is shown (bidi overrides and isolates, marks, line
#: and paragraph separators): a name that holds one can hide or disguise what follows it.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
#: Half of a UTF-16 pair, alone: JSON may hold one ("\ud800"), UTF-8 cannot (writing or
#: printing it fails); and the characters that show nothing (zero-width spaces and joiners,
#: the byte-order mark, the soft hyphen, invisible operators, tags), with which "dcgan" and
#: "dcgan\u200b" would look alike. Each is shown as U+FFFD, the replacement character.
UNSHOWN = re.compile(
    r"[\ud800-\udfff\u00ad\u180e\u200b-\u200d\u2060-\u2065\u206a-\u206f\ufeff\ufff9-\ufffb"
    r"\U000e0000-\U000e007f]"
)
#: Spreadsheets read a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@")
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
#: Markdown's markup, and `$`, with which GitHub starts math.
MARKDOWN_SPECIAL = re.compile(r"([\\|*`<>\[\]$])")


def escape(text: Any, fmt: str) -> str:
    """Text from a result file, made inert in `fmt`: result files are exchanged between
    people, so a name may hold markup, a table separator or a spreadsheet formula.
    Control characters (newlines, terminal escapes, bidi overrides) become spaces in every
    format, and a lone surrogate (which UTF-8 cannot hold) or an invisible character
    U+FFFD. `fmt` "terminal": these alone (say, warn); "plot": a matplotlib title."""
    text = UNSHOWN.sub("\ufffd", CONTROL.sub(" ", str(text)))
    if fmt == "html":
        return html.escape(text, quote=True)
    if fmt == "md":
        return MARKDOWN_SPECIAL.sub(r"\\\1", text)
    if fmt == "latex":
        return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
    if fmt == "plot":  # matplotlib reads $...$ as math (an unclosed one is an error)
        return text.replace("$", r"\$")
    if fmt == "csv" and text.lstrip()[:1] in FORMULA_START:
        return "'" + text  # not a formula when the file is opened in a spreadsheet
    return text


def say(text: Any = "", file: TextIO | None = None, end: str = "\n") -> None:
    """Prints `text` to `file` (stdout) line by line made inert (escape "terminal"): what
    ganbench prints holds names and paths from files, and a terminal obeys the controls
    in them (a title change, a cleared screen, reversed text)."""
    lines = str(text).split("\n")
    print("\n".join(escape(line, "terminal") for line in lines), file=file, end=end)


def warn(message: str) -> None:
    """`ganbench: warning: <message>` on stderr, made inert (say)."""
    say(f"ganbench: warning: {message}", file=sys.stderr)


def csv_row(values: list[Any]) -> list[Any]:
    """A CSV row whose every text cell is escaped (numbers, booleans and None are written
    as they are): a spreadsheet must never read a cell of a result file as a formula."""
    return [
        v if v is None or isinstance(v, (bool, int, float)) else escape(v, "csv") for v in values
    ]


#: Characters a name keeps in a file name or URL: RFC 3986's unreserved ones less "~",
#: which marks a shortened name.
FILE_NAME_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
#: Room left in a 255-byte file name for the suffixes ganbench adds ("_latent_spherical.png").
FILE_NAME_MAX = 200


def _percent_encoded(text: str, safe: frozenset[str]) -> str:
    encoded = "".join(
        ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        for ch in text
    )
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def file_name(name: Any) -> str:
    """A name from a file (a model, a dataset, a suite, a run folder) as one file name:
    every character but letters, digits, '-', '_' and '.' is percent-encoded (so '/',
    '\\', ':' and '%' cannot name another place or a scheme), a leading '.' too (no hidden
    files, never '.' or '..'). Distinct names give distinct file names: an empty or very
    long name becomes a prefix, '~' and its SHA-256. A label a suite accepts
    (suite.LABEL_CHARACTERS) is its own file name, so no file that ganbench wrote before
    changes its name."""
    text = str(name)
    encoded = _percent_encoded(text, FILE_NAME_SAFE)
    if not encoded or len(encoded) > FILE_NAME_MAX:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        encoded = f"{encoded[: FILE_NAME_MAX - 20]}~{digest}"
    return encoded


def url_path(*file_names: str) -> str:
    """A relative link to a file in the site or report: each of its path's file names (as
    `file_name` made them, or ganbench's own) percent-encoded once more, so that the link
    opens exactly that file (a file name's '%' is the URL's '%25') and never carries a
    scheme, a query, a fragment or a '..'."""
    return "/".join(_percent_encoded(str(part), FILE_NAME_SAFE | {"~"}) for part in file_names)


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


def rounded_spread(spread: float) -> tuple[float, int]:
    """A spread rounded as the Particle Data Group rounds errors (Review of Particle
    Physics, "Introduction"), and the decimal place it keeps: two significant digits when
    its first three lie in 100-354 (1.53 -> 1.5, 34.4 -> 34), one in 355-949 (6.9 -> 7,
    0.036 -> 0.04), and 950-999 up to the next power of ten with two (0.96 -> 1.0). A
    negative place means tens, hundreds (189 -> 190)."""
    exponent = math.floor(math.log10(spread))
    leading = round(spread / 10 ** (exponent - 2))
    if leading >= 950:  # up to the next power of ten (9.996 gives 1000 here too)
        return 10.0 ** (exponent + 1), -exponent
    decimals = 1 - exponent if leading <= 354 else -exponent
    return round(spread, decimals), decimals


def _fixed(value: float, decimals: int) -> str:
    rounded = round(value, decimals) + 0.0  # + 0.0: no "-0"
    return f"{rounded:,.{max(decimals, 0)}f}"


def measured(mean: float | None, spread: float | None, pm: str = "±") -> str:
    """`mean ± spread`, both rounded to the place the spread supports (rounded_spread):
    23.744 ± 1.532 -> 23.7 ± 1.5, 139.99 ± 6.905 -> 140 ± 7, 0.0101 ± 0.00346 -> 0.0101
    ± 0.0035. Without a spread (None) the mean alone; a spread of 0 keeps the mean's own
    digits (format_number): a count over seeds that all agree, 25 ± 0."""
    if mean is None:
        return format_number(None)
    if spread is None:
        return format_number(mean)
    if not sys.float_info.min <= spread < math.inf or not math.isfinite(mean):
        # 0, a denormal (too small to round: 5e-324 / 10**-326 is 0) or infinity: as it is
        return f"{format_number(mean)} {pm} {format_number(spread)}"
    shown, decimals = rounded_spread(spread)
    return f"{_fixed(mean, decimals)} {pm} {_fixed(shown, decimals)}"


def cell(m: dict[str, Any] | None, fmt: str) -> str:
    """`mean ± std` rounded to what the std supports (`measured`), marked † when the
    value has a caveat (conditions.notes says which)."""
    if m is None:
        return ""
    dagger = r"$\dagger$" if fmt == "latex" else MARK
    mark = f" {dagger}" if caveats(m) else ""
    if m["n"] <= 1 or m["std"] is None:
        return format_number(m["mean"]) + mark
    pm = r"$\pm$" if fmt == "latex" else "±"
    return measured(m["mean"], m["std"], pm) + mark
