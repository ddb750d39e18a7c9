"""Turn arbitrary names into valid, non-reserved C identifiers."""

from __future__ import annotations

import re

from edge_rnn.errors import EdgeRnnError

# C99 keywords, C11/C23 additions and identifiers that clash with common headers.
RESERVED = frozenset(
    [
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "_Bool",
        "_Complex",
        "_Imaginary",
        "alignas",
        "alignof",
        "bool",
        "false",
        "true",
        "static_assert",
        "thread_local",
        "nullptr",
        "constexpr",
        "typeof",
        "main",
        "errno",
        "assert",
        "NULL",
        "EOF",
        "stdin",
        "stdout",
        "stderr",
    ]
)


def c_identifier(name: str, *, fallback: str = "model") -> str:
    """A lowercase C identifier from `name`: invalid characters become '_', runs collapse,
    a leading digit gets a prefix, reserved words get a '_model' suffix.

    >>> c_identifier("My-Model v2")
    'my_model_v2'
    >>> c_identifier("3axis")
    'm_3axis'
    """
    ident = re.sub(r"[^0-9a-zA-Z_]+", "_", name).strip("_").lower()
    ident = re.sub(r"_+", "_", ident) or fallback
    if ident[0].isdigit():
        ident = f"m_{ident}"
    if ident in RESERVED or ident.startswith("__"):
        ident = f"{ident}_model"
    return ident


def checked_identifier(name: str, where: str) -> str:
    """`name` when it is a name `c_identifier` keeps as it is (what a build would name the
    model), else an error saying why and suggesting the name a build would use."""
    if c_identifier(name) != name:
        raise EdgeRnnError(
            f"{where} '{name}' is not a usable C name: lowercase letters, digits and '_', "
            f"not starting with a digit or '__', not a C keyword; e.g. '{c_identifier(name)}'"
        )
    return name
