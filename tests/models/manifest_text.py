"""The shipped manifest's text with the demo file entries replaced, for manifest and registry tests."""

from __future__ import annotations

import re

from logos_tools.shipped import gguf_dir

_FILE_ENTRY = re.compile(r"\[demo\.files\.(?P<variant>\w+)\]\n(?:(?:path|sha256|size) = .*\n)+")


def manifest_with_demo_files(entries: dict[str, str]) -> str:
    """The shipped manifest where ``[demo.files.VARIANT]`` holds exactly ``entries[VARIANT]`` (TOML lines)."""
    text = (gguf_dir() / "manifest.toml").read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        variant = match.group("variant")
        return (
            f"[demo.files.{variant}]\n{entries[variant].rstrip()}\n" if variant in entries else match.group()
        )

    return _FILE_ENTRY.sub(replace, text)
