"""Passwords masked before anything is shown or kept: a URL's userinfo or query, a keyword DSN's password=.

A module of its own, with the standard library only: the replay (replay.py) masks variables without loading the rest
of database/urls.py, which re-exports mask for everyone else.
"""

from __future__ import annotations

import re

# What may precede '://' in a URL's scheme (mask reads the scheme backwards from there).
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_USER = re.compile(r"[^:/@\s]*:")
_UP_TO_PATH = re.compile(r"[^/\s]*")

# password=VALUE, as a keyword DSN ("host=db password=s3cret") or a URL's query ("?password=s3cret&...") spells it.
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)", re.IGNORECASE)


def mask(text: str) -> str:
    """Replace every password in `text` with ***: a URL's userinfo or query, or a keyword DSN's password=, in time
    linear in the text's length."""
    if "password" in text.lower():
        text = _KEYWORD_PASSWORD.sub(lambda match: match[1] + "***", text)
    pieces, done, start = [], 0, text.find("://")
    while start >= 0:
        after = start + 3
        if _scheme_before(text, start):
            user = _USER.match(text, after)
            if user is not None:
                begin = user.end()
                span = _UP_TO_PATH.match(text, begin).end()  # type: ignore[union-attr]  # * always matches
                at = text.rfind("@", begin, span)  # user:password@ up to the LAST @ before the host
                if at > begin:
                    pieces += [text[done:begin], "***"]
                    done = at
                after = max(after, span)
        start = text.find("://", after)
    return "".join(pieces) + text[done:] if pieces else text


def _scheme_before(text: str, end: int) -> bool:
    """Whether a scheme ([a-z][a-z0-9+.-]*) ends at `end`: one letter among the scheme characters before it."""
    index = end
    while index > 0 and text[index - 1] in _SCHEME_CHARS:
        index -= 1
        if text[index].isalpha():
            return True
    return False
