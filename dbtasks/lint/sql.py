"""Offline SQL cut into statements the way PostgreSQL reads it: a `;` ends a statement only outside quotes ('...',
"...", E'...') and dollar-quoted bodies ($$...$$, $tag$...$tag$); `--` and `/* */` comments are left out. Each
statement comes back on one line, its whitespace runs made one space, without its `;`."""

from __future__ import annotations

import re

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def split(sql: str) -> list[str]:
    """The statements of `sql`, each on one line."""
    statements: list[str] = []
    current: list[str] = []
    index, size = 0, len(sql)
    while index < size:
        char = sql[index]
        if char in "'\"":  # a quoted literal or name: a doubled quote inside is one quote
            end = index + 1
            while end < size and not (sql[end] == char and sql[end + 1 : end + 2] != char):
                end += 2 if sql[end] == char else 1
            current.append(sql[index : end + 1])
            index = end + 1
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


def _in_word(sql: str, index: int) -> bool:
    """A `$` inside an identifier (`a$b`) or a parameter (`$1`) opens no dollar quote."""
    return index > 0 and (sql[index - 1].isalnum() or sql[index - 1] == "_")


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
    depth, quote = 0, ""
    for char in statement:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            return True
    return False
