"""Antibodies <-> ``<AntibodyS>...<AntibodyE>`` blocks.

The chain layout is not published, so it is the profile setting ``unpublished.antibody_layout``:
``"heavy"`` puts one chain (the heavy chain) in a block; ``"heavy_light"`` writes the heavy chain, the
``antibody_chain_separator`` and the light chain. CDR marking is not published and not written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logos_tools.errors import DecodeError, EncodeError, ProfileError
from logos_tools.grammar.blocks import check_no_tags
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import AMINO_ACIDS, check_letters, check_sequence, only_block


@dataclass(frozen=True)
class AntibodySequence:
    """An antibody: its heavy chain and, in the ``heavy_light`` layout, its light chain."""

    heavy: str
    light: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"heavy": self.heavy, "light": self.light}


def _separator(profile: Profile) -> str:
    separator = profile.unpublished.antibody_chain_separator
    clash = [c for c in separator if c in AMINO_ACIDS or c.isspace() or c in "<>"]
    if clash:
        raise ProfileError(
            f"Profile {profile.name!r}: unpublished.antibody_chain_separator = {separator!r} contains "
            f"{clash[0]!r}, which can also appear in a sequence or a tag. Use a symbol such as '|'."
        )
    return separator


def encode_antibody(heavy: str, light: str | None, profile: Profile) -> str:
    """``<AntibodyS>...<AntibodyE>`` in the profile's chain layout.

    Raises:
        EncodeError: a chain breaks ``check_sequence`` or contains tag-like text, a light chain is given in
            the ``heavy`` layout, or missing in the ``heavy_light`` layout.
        ProfileError: the chain separator could be confused with sequence letters.
    """
    check_no_tags(heavy, "antibody heavy chain", profile)
    heavy_checked = check_sequence(heavy, what="antibody heavy chain")
    layout = profile.unpublished.antibody_layout
    if layout == "heavy":
        if light is not None:
            raise EncodeError(
                f"Profile {profile.name!r} writes antibodies as the heavy chain alone "
                "(unpublished.antibody_layout = 'heavy'), but a light chain was given. Pass only the "
                "heavy chain, or use a profile with antibody_layout = 'heavy_light'."
            )
        return profile.wrap("antibody", heavy_checked)
    separator = _separator(profile)
    if light is None:
        raise EncodeError(
            f"Profile {profile.name!r} writes antibodies as heavy and light chain "
            "(unpublished.antibody_layout = 'heavy_light'), but no light chain was given. Pass both chains."
        )
    check_no_tags(light, "antibody light chain", profile)
    light_checked = check_sequence(light, what="antibody light chain")
    return profile.wrap("antibody", f"{heavy_checked}{separator}{light_checked}")


def decode_antibody(block_text: str, profile: Profile) -> AntibodySequence:
    """Read exactly one complete antibody block in the profile's chain layout.

    Raises:
        DecodeError: not exactly one complete antibody block, a non-standard letter, or a chain count
            that does not match the layout (the position points at the problem).
        ProfileError: the chain separator could be confused with sequence letters.
    """
    block = only_block(block_text, "antibody", profile, what="antibody")
    offset = block.start + len(profile.start("antibody"))
    content = block.content
    if profile.unpublished.antibody_layout == "heavy":
        check_letters(content, offset, block_text, what="antibody heavy chain")
        return AntibodySequence(heavy=content)
    separator = _separator(profile)
    parts = content.split(separator)
    if len(parts) != 2:
        position = offset + (
            len(content) if len(parts) == 1 else len(parts[0]) + len(separator) + len(parts[1])
        )
        found = "no" if len(parts) == 1 else str(len(parts) - 1)
        raise DecodeError(
            f"The antibody block holds {found} chain separator(s) {separator!r} (problem at position "
            f"{position}); the 'heavy_light' layout is HEAVY{separator}LIGHT with exactly one separator.",
            position=position,
            text=block_text,
        )
    heavy, light = parts
    check_letters(heavy, offset, block_text, what="antibody heavy chain")
    check_letters(light, offset + len(heavy) + len(separator), block_text, what="antibody light chain")
    return AntibodySequence(heavy=heavy, light=light)
