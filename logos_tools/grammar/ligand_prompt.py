"""Protein-ligand text for ligand design: the prompt, and the full complex as training text.

A complex is a protein block followed directly by the ligand's molecule block. The protein block takes
one of three forms (``unpublished.ligand_prompt_variant`` by default):

- ``plain``:  ``<ProteinS>SEQ<ProteinE>`` (pocket positions are checked but not written),
- ``letter``: pocket residues marked ``<PocketS>L<PocketE>``,
- ``smiles``: pocket residues written as their SMILES (the ``<Trans>`` form).

The prompt is the ``ligand_design`` task template: the protein block, then
``unpublished.ligand_prompt_tail`` (``<MoleculeS>`` in logos-v1, where the ligand starts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from logos_tools.errors import EncodeError
from logos_tools.grammar.blocks import check_no_tags
from logos_tools.grammar.molecule import encode_molecule
from logos_tools.grammar.pocket import check_positions, encode_pocket_protein, fill_task
from logos_tools.grammar.pocket_smiles import expand_pocket
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import check_sequence

LigandPromptVariant = Literal["plain", "letter", "smiles"]
VARIANTS: tuple[LigandPromptVariant, ...] = ("plain", "letter", "smiles")


def protein_for_ligand(
    sequence: str, positions0: Sequence[int], profile: Profile, *, variant: LigandPromptVariant | None = None
) -> str:
    """The protein block of a complex in the given variant (the profile's default when None).

    Raises:
        EncodeError: an unknown variant, an invalid sequence or position, or no pocket position for the
            ``letter`` / ``smiles`` variants.
        ProfileError: the residue SMILES table is invalid (``smiles`` variant).
    """
    chosen = profile.unpublished.ligand_prompt_variant if variant is None else variant
    if chosen not in VARIANTS:
        raise EncodeError(f"Ligand prompt variant {chosen!r} is unknown. Use one of: {', '.join(VARIANTS)}.")
    if chosen == "plain":
        check_no_tags(sequence, "protein sequence", profile)
        checked = check_sequence(sequence)
        check_positions(positions0, len(checked))
        return profile.wrap("protein", checked)
    if len(positions0) == 0:
        raise EncodeError(
            f"The {chosen!r} ligand prompt marks the pocket, but no pocket position was given. Pass the "
            "pocket residues' 0-based indices, or use the 'plain' variant."
        )
    if chosen == "letter":
        return encode_pocket_protein(sequence, positions0, profile)
    return expand_pocket(sequence, positions0, profile)


def build_ligand_prompt(
    sequence: str,
    positions0: Sequence[int],
    profile: Profile,
    *,
    variant: LigandPromptVariant | None = None,
) -> str:
    """The ligand-design prompt: the protein block in ``variant`` form, then the profile's tail.

    Raises:
        EncodeError: see ``protein_for_ligand``.
        ProfileError: the ``ligand_design`` template does not take exactly ``{protein}`` and
            ``{ligand_prompt_tail}``, or the residue SMILES table is invalid.
    """
    protein = protein_for_ligand(sequence, positions0, profile, variant=variant)
    return fill_task(
        "ligand_design", profile, protein=protein, ligand_prompt_tail=profile.unpublished.ligand_prompt_tail
    )


def encode_complex(
    sequence: str,
    positions0: Sequence[int],
    ligand_smiles: str,
    variant: LigandPromptVariant | None,
    profile: Profile,
) -> str:
    """A whole protein-ligand complex as training-style text: protein block + ligand molecule block.

    Raises:
        EncodeError: see ``protein_for_ligand``; or the ligand SMILES is invalid.
        ProfileError: the residue SMILES table is invalid.
    """
    protein = protein_for_ligand(sequence, positions0, profile, variant=variant)
    return protein + encode_molecule(ligand_smiles, profile)
