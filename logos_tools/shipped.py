"""Where the data that ships with logos-tools lives (grammar profiles, GBNF files, the demo model).

In a wheel the top-level ``grammar/`` and ``gguf/`` folders are copied to ``logos_tools/_shipped``;
in a source checkout (including editable installs) they are read in place at the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped_root() -> Path:
    inside_wheel = _PACKAGE_DIR / "_shipped"
    if inside_wheel.is_dir():
        return inside_wheel
    return _PACKAGE_DIR.parent


def grammar_dir() -> Path:
    """The folder holding grammar profiles, GBNF grammars and golden fixtures."""
    return _shipped_root() / "grammar"


def gguf_dir() -> Path:
    """The folder holding the model manifest and the built-in demo model files."""
    return _shipped_root() / "gguf"
