"""Offline SQL cut into statements the way PostgreSQL reads it: a `;` ends a statement only outside quotes ('...',
"...", E'...') and dollar-quoted bodies ($$...$$, $tag$...$tag$); `--` and `/* */` comments are left out. Each
statement comes back on one line, its whitespace runs made one space, without its `;`."""

from __future__ import annotations

import re

_DOLLAR = re.compile(r"\$([^\W\d]\w*)?\$")


def split(sql: str) -> list[str]:
    """The statements of `sql`, each on one line."""
    statements: list[str] = []
    current: list[str] = []
    index, size = 0, len(sql)
    while index < size:
        char = sql[index]
        if char in "'\"":  # a quoted literal or name: a doubled quote inside is one quote
            end = _quote_end(sql, index, escapes=char == "'" and _escape_string(sql, index))
            current.append(sql[index:end])
            index = end
        elif char == "$" and (tag := _DOLLAR.match(sql, index)) and not _in_word(sql, index):
            end = sql.find(tag[0], tag.end())
            end = size if end < 0 else end + len(tag[0])
            current.append(sql[index:end])
            index = end
        elif sql.startswith("--", index):
            end = sql.find("\n", index)
            index = size if end < 0 else end
        elif sql.startswith("/*", index):
            index = _comment_end(sql, index)
            current.append(" ")
        elif char == ";":
            statements.append("".join(current))
            current = []
            index += 1
        else:
            current.append(char)
            index += 1
    statements.append("".join(current))
    return [one for one in (" ".join(statement.split()) for statement in statements) if one]


def _quote_end(sql: str, index: int, escapes: bool) -> int:
    """The index after the quote opening at `index` closes (the end of `sql` when it never does); `escapes`: an
    E'...' string, where a backslash escapes the next character."""
    quote, end, size = sql[index], index + 1, len(sql)
    while end < size:
        if escapes and sql[end] == "\\":
            end += 2
        elif sql[end] == quote:
            if sql[end + 1 : end + 2] != quote:
                return end + 1
            end += 2
        else:
            end += 1
    return size


def _escape_string(sql: str, index: int) -> bool:
    """Whether the quote at `index` opens an E'...' string: an E (or e) right before it, not ending a longer word."""
    return index > 0 and sql[index - 1] in "Ee" and not (index > 1 and _word_char(sql[index - 2]))


def _word_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _in_word(sql: str, index: int) -> bool:
    """A `$` inside an identifier (`a$b`, `foo$$`) or a parameter (`$1`) opens no dollar quote."""
    return index > 0 and _word_char(sql[index - 1])


def _comment_end(sql: str, index: int) -> int:
    """The end of the block comment opening at `index` (PostgreSQL's nest)."""
    depth, index = 0, index
    while index < len(sql):
        if sql.startswith("/*", index):
            depth, index = depth + 1, index + 2
        elif sql.startswith("*/", index):
            depth, index = depth - 1, index + 2
            if depth == 0:
                return index
        else:
            index += 1
    return index


def top_level_comma(statement: str) -> bool:
    """Whether `statement` has a comma outside parentheses and quotes (ALTER TABLE with several subcommands)."""
    depth, index = 0, 0
    while index < len(statement):
        char = statement[index]
        if char in "'\"":
            index = _quote_end(statement, index, escapes=char == "'" and _escape_string(statement, index))
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            return True
        index += 1
    return False
