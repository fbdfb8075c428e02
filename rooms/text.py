"""Message text rules shared by every node: what is stripped, what is refused."""

from __future__ import annotations

import unicodedata

# Bidirectional embedding/override and isolate controls: they can make a
# message display as something other than what was sent.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


class TextError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _keep(ch: str) -> bool:
    if ch == "\n":
        return True
    if ch in _BIDI:
        return False
    return unicodedata.category(ch) != "Cc"


def clean_text(text: str, max_chars: int) -> str:
    """Strip control (Cc except newline) and bidi characters, trim, check length.

    Raises TextError(`bad_request`) when nothing is left and
    TextError(`too_long`) above `max_chars` code points. Zero-width joiners
    (Cf) stay: emoji sequences need them.
    """
    if text.isascii() and text.isprintable():
        cleaned = text.strip()
    else:
        cleaned = "".join(ch for ch in text if _keep(ch)).strip()
    if not cleaned:
        raise TextError("bad_request", "text is empty")
    if len(cleaned) > max_chars:
        raise TextError("too_long", f"text is longer than {max_chars} characters")
    return cleaned
