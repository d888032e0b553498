"""What a person typed into a page, tidied the way it should go out by SMS (pure).

Staff write to customers on the desks and the conversation page. What they type is sent as typed
(an emoji included: the compose counter showed its cost), but characters nobody means to send are
dropped: control characters other than a new line (NUL, ESC, BEL), format characters (a right-to-left
override that flips the text, a byte-order mark, tag characters), private-use and unassigned code
points. A zero-width joiner stays: it holds emoji sequences such as 👨‍👩‍👧 together.
"""

from __future__ import annotations

import unicodedata

KEEP_FORMAT = {"\u200d"}  # zero-width joiner (emoji sequences)


def tidy_typed(text: str) -> str:
    """``text`` with CRLF/CR as LF, unwanted characters dropped, spaces trimmed at both ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in text if ch == "\n" or ch in KEEP_FORMAT
                   or unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cn", "Cs"))
    return kept.strip()
