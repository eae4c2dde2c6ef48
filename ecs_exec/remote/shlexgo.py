"""Word splitting and quoting exactly as ``github.com/google/shlex`` does it.

The SSM agent splits the ExecuteCommand ``command`` string with google/shlex
(``shlex.Split``) and execs the words directly, with no shell. Python's own
:mod:`shlex` follows POSIX shell rules, which differ in ways that matter here:

* inside double quotes a backslash escapes *any* next character (``"\\n"`` is
  ``n``, not ``\\n``), while POSIX keeps the backslash before ordinary ones;
* ``#`` starts a comment only at the start of a word (``a#b`` is one word) and the
  comment runs to the next LF;
* only space, TAB, CR and LF separate words; every other character, NUL and
  non-ASCII included, is part of a word;
* an unterminated quote or a trailing backslash is an error (``Split`` returns an
  error and the agent runs nothing).

The state machine below mirrors ``Tokenizer.scanStream`` in google/shlex
``shlex.go`` (commit e7afc7f) state for state, so the sandbox can use :func:`split`
as its agent and tests can prove :func:`join` round-trips through the real rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["join", "quote", "split"]

_SPACE = frozenset(" \t\r\n")
# Words made only of these need no quoting (and cannot start a comment).
_SAFE_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")

# States of shlex.go's lexer (comments there: "startState", "inWordState", ...).
_START, _WORD, _ESC, _ESC_QUOTED, _DQUOTE, _SQUOTE, _COMMENT = range(7)


def split(s: str) -> list[str]:
    """Split ``s`` into words with google/shlex's rules.

    Args:
        s: the command string as the agent receives it.

    Returns:
        The words, comments dropped.

    Raises:
        ValueError: on an unterminated quote or a trailing escape, where
            google/shlex's ``Split`` returns an error.
    """
    words: list[str] = []
    state = _START
    value: list[str] = []
    for ch in s:
        if state == _START:
            if ch in _SPACE:
                continue
            if ch == '"':
                state = _DQUOTE
            elif ch == "'":
                state = _SQUOTE
            elif ch == "\\":
                state = _ESC
            elif ch == "#":
                state = _COMMENT
            else:
                value.append(ch)
                state = _WORD
        elif state == _WORD:
            if ch in _SPACE:
                words.append("".join(value))
                value.clear()
                state = _START
            elif ch == '"':
                state = _DQUOTE
            elif ch == "'":
                state = _SQUOTE
            elif ch == "\\":
                state = _ESC
            else:
                value.append(ch)
        elif state == _ESC:
            value.append(ch)
            state = _WORD
        elif state == _ESC_QUOTED:
            value.append(ch)
            state = _DQUOTE
        elif state == _DQUOTE:
            if ch == '"':
                state = _WORD
            elif ch == "\\":
                state = _ESC_QUOTED
            else:
                value.append(ch)
        elif state == _SQUOTE:
            if ch == "'":
                state = _WORD
            else:
                value.append(ch)
        else:  # _COMMENT: the comment token is dropped by shlex.Lexer.Next
            if ch == "\n":
                value.clear()
                state = _START
    # End of input, handled per state as scanStream's eofRuneClass cases are.
    if state in (_ESC, _ESC_QUOTED):
        raise ValueError("EOF found after escape character")
    if state in (_DQUOTE, _SQUOTE):
        raise ValueError("EOF found when expecting closing quote")
    if state == _WORD:
        words.append("".join(value))
    return words


def quote(word: str) -> str:
    """Quote ``word`` so that :func:`split` returns it as exactly one word.

    Works for any string: empty, with newlines, quotes, ``$``, ``#``, NUL or
    non-ASCII. Uses the shorter of a single-quoted form (``'`` written as
    ``'\\''``) and a double-quoted form (only ``"`` and ``\\`` escaped).

    Raises:
        ValueError: if ``word`` cannot be encoded as UTF-8 (lone surrogates),
            since the agent would receive U+FFFD instead.
    """
    word.encode("utf-8")  # raises UnicodeEncodeError (a ValueError) on surrogates
    if _SAFE_WORD.fullmatch(word):
        return word
    single = "'" + word.replace("'", "'\\''") + "'"
    double = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return double if len(double) < len(single) else single


def join(argv: Iterable[str]) -> str:
    """Quote every word and join with spaces; ``split(join(argv)) == list(argv)``."""
    return " ".join(quote(word) for word in argv)
