"""Tokens of the emulator's Resource Graph KQL subset, and the error every KQL module raises.

Owns :class:`KqlError` and :func:`tokenize`. Pure: no I/O, imports nothing outside the stdlib.
String literals follow Kusto: ``'...'`` / ``"..."`` with backslash escapes (``\\\\``, ``\\'``,
``\\"``, ``\\n``, ``\\r``, ``\\t``) and verbatim ``@'...'`` / ``@"..."`` where a doubled quote
stands for one quote. Any escape or literal form outside that list is a :class:`KqlError`, so a
query is never silently read differently from how Azure would read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class KqlError(Exception):
    """A query the emulator does not support, or one that is malformed.

    ``construct`` names the offending piece (an operator, a function, a table, or a syntax
    position); ``message`` says what is wrong and what is supported instead.
    """

    def __init__(self, construct: str, message: str) -> None:
        super().__init__(message)
        self.construct = construct
        self.message = message


@dataclass(frozen=True)
class Token:
    """One lexical token; ``value`` is the decoded literal for strings and numbers."""

    kind: str  # "ident" | "string" | "number" | "op" | "eof"
    text: str
    value: Any
    start: int
    end: int


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
_OPS = ("==", "=~", "!=", "!~", "<=", ">=", "<>")
_SINGLE_OPS = "|()[],.=<>!~+-*/%;:{}$?"
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD_CHAR_RE = re.compile(r"[A-Za-z0-9_]")


def position(text: str, offset: int) -> str:
    """Human position of ``offset``: ``column N`` on one-line queries, else ``line L, column N``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def syntax_error(text: str, token: Token, expected: str) -> KqlError:
    """The error for ``token`` appearing where ``expected`` was required."""
    shown = "end of query" if token.kind == "eof" else f"token {token.text!r}"
    construct = f"unexpected {shown} at {position(text, token.start)}"
    return KqlError(construct, f"Syntax error: {construct}; expected {expected}.")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``eof`` token; comments are dropped."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("//", i):
            newline = text.find("\n", i)
            i = len(text) if newline == -1 else newline
        elif ch in "'\"" or (ch == "@" and text[i + 1 : i + 2] in ("'", '"')):
            token = _string(text, i)
            tokens.append(token)
            i = token.end
        else:
            token = _plain(text, i)
            tokens.append(token)
            i = token.end
    tokens.append(Token("eof", "", None, len(text), len(text)))
    return tokens


def _plain(text: str, i: int) -> Token:
    """An identifier, number or operator token starting at ``i``."""
    if match := _IDENT_RE.match(text, i):
        return Token("ident", match.group(), match.group(), i, match.end())
    if match := _NUMBER_RE.match(text, i):
        end = match.end()
        if _WORD_CHAR_RE.match(text, end):
            # 1d, 10m, 0x1F: timespan/hex literals are outside the subset.
            word = _IDENT_RE.match(text, end)
            literal = match.group() + (word.group() if word else text[end])
            message = (
                f"Literal {literal!r} at {position(text, i)} is not supported; "
                "only decimal numbers, strings and true/false are."
            )
            raise KqlError(literal, message)
        raw = match.group()
        value: float | int = int(raw) if raw.isdigit() else float(raw)
        return Token("number", raw, value, i, end)
    for op in _OPS:
        if text.startswith(op, i):
            return Token("op", op, op, i, i + len(op))
    if text[i] in _SINGLE_OPS:
        return Token("op", text[i], text[i], i, i + 1)
    construct = f"unexpected character {text[i]!r} at {position(text, i)}"
    raise KqlError(construct, f"Syntax error: {construct}.")


def _string(text: str, start: int) -> Token:
    """A string literal token starting at ``start`` (on the quote or the ``@``)."""
    if text.startswith(("```", "~~~"), start):
        raise KqlError("multi-line string literal", "Multi-line string literals are not supported.")
    verbatim = text[start] == "@"
    quote_at = start + 1 if verbatim else start
    quote = text[quote_at]
    chars: list[str] = []
    i = quote_at + 1
    while i < len(text):
        ch = text[i]
        if ch in "\r\n":
            break
        if ch == quote:
            if verbatim and text[i + 1 : i + 2] == quote:
                chars.append(quote)
                i += 2
                continue
            return Token("string", text[start : i + 1], "".join(chars), start, i + 1)
        if ch == "\\" and not verbatim:
            escaped = text[i + 1 : i + 2]
            if escaped not in _ESCAPES:
                construct = f"escape sequence '\\{escaped}' at {position(text, i)}"
                supported = "\\\\, \\', \\\", \\n, \\r, \\t"
                raise KqlError(construct, f"Unsupported {construct}; supported: {supported}.")
            chars.append(_ESCAPES[escaped])
            i += 2
            continue
        chars.append(ch)
        i += 1
    construct = f"unterminated string literal at {position(text, start)}"
    raise KqlError(construct, f"Syntax error: {construct}.")
