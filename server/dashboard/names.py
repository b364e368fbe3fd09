"""Names on the dashboard's pages, safe from direction tricks.

A name can hold invisible bidirectional controls (U+202E RIGHT-TO-LEFT
OVERRIDE and its kin) that make ``exe.txt`` read as ``txt.exe``, or spill
over the figures beside it. No site, counter or terminal name needs them, so
the pages drop them; what is left is escaped and wrapped in ``<bdi>``, so even
a name in a right-to-left script cannot reorder the text around it. The
stored name is unchanged: only its display is.

    >>> str(isolated("Quầy \\u202e1 ạb"))
    '<bdi>Quầy 1 ạb</bdi>'
    >>> str(isolated("<b>x</b>"))
    '<bdi>&lt;b&gt;x&lt;/b&gt;</bdi>'
    >>> without_bidi_controls("a\\u2066b\\u200fc")
    'abc'
"""

from __future__ import annotations

from markupsafe import Markup, escape

# The one rule for bidi controls (also used on terminals' screens and in logs); used here for ``<option>``
# and attributes.
from sync.plain_text import BIDI_CONTROLS, without_bidi_controls  # noqa: F401


def isolated(value: object) -> Markup:
    """``value`` escaped, without bidirectional controls, inside ``<bdi>`` (the ``name`` filter)."""
    return Markup("<bdi>{}</bdi>").format(escape(without_bidi_controls(value)))
