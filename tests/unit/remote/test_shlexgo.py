"""Tests for ecs_exec.remote.shlexgo against google/shlex's rules (shlex.go, commit e7afc7f)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from ecs_exec.remote import shlexgo

# The first row is shlex_test.go's testString and TestLexer expectation, verbatim.
KNOWN_SPLITS = [
    (
        'one two "three four" "five \\"six\\"" seven#eight # nine # ten\n'
        " eleven 'twelve\\' thirteen=13 fourteen/14",
        [
            "one",
            "two",
            "three four",
            'five "six"',
            "seven#eight",
            "eleven",
            "twelve\\",
            "thirteen=13",
            "fourteen/14",
        ],
    ),
    ("", []),
    ("   \t\r\n ", []),
    ("''", [""]),
    ('""', [""]),
    ("a '' b", ["a", "", "b"]),
    ("a''b", ["ab"]),
    # A backslash inside double quotes escapes any character (POSIX would keep it).
    ('"a\\nb"', ["anb"]),
    ('"a\\\\b"', ["a\\b"]),
    ("a\\ b", ["a b"]),
    ("a\\\nb", ["a\nb"]),
    # Single quotes: no escapes at all.
    ("'a\\b'", ["a\\b"]),
    ("'a\"b'", ['a"b']),
    # Comments only at the start of a word, up to LF.
    ("#x y\nz", ["z"]),
    ("a #x y", ["a"]),
    ("a#b", ["a#b"]),
    ("'#a'", ["#a"]),
    # Only space/TAB/CR/LF separate; \v, \f, NBSP are word characters.
    ("a\vb\fc\u00a0d", ["a\vb\fc\u00a0d"]),
    ("a\x00b", ["a\x00b"]),
    ("$HOME;|&", ["$HOME;|&"]),
    ("héllo wörld", ["héllo", "wörld"]),
    ('a"b c"d', ["ab cd"]),
    ("'a'\\''b'", ["a'b"]),
]


@pytest.mark.parametrize(("text", "words"), KNOWN_SPLITS)
def test_split_known(text: str, words: list[str]) -> None:
    assert shlexgo.split(text) == words


@pytest.mark.parametrize("text", ["'abc", '"abc', "abc\\", '"abc\\', "a 'b c"])
def test_split_errors(text: str) -> None:
    with pytest.raises(ValueError, match="EOF found"):
        shlexgo.split(text)


@pytest.mark.parametrize(
    "word", ["", "plain", "a b", "it's", 'say "hi"', "a\\b", "$x;y", "#c", "\n", "ü", "\x00"]
)
def test_quote_round_trip_examples(word: str) -> None:
    assert shlexgo.split(shlexgo.quote(word)) == [word]


def test_quote_leaves_safe_words_bare() -> None:
    assert shlexgo.quote("ls") == "ls"
    assert shlexgo.quote("/usr/bin/env") == "/usr/bin/env"


def test_quote_rejects_surrogates() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - UnicodeEncodeError's text is the codec's
        shlexgo.quote("\ud800")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text()))
def test_join_round_trip(argv: list[str]) -> None:
    assert shlexgo.split(shlexgo.join(argv)) == argv


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=" \t\r\n'\"\\#$;a\u00e9\x00", max_size=12), max_size=6))
def test_join_round_trip_special_characters(argv: list[str]) -> None:
    assert shlexgo.split(shlexgo.join(argv)) == argv
