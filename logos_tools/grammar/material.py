"""Material (MOF) codec: ``<MaterialS><MetalS>node<MetalE><MoleculeS>linker<MoleculeE>...<MaterialE>``.

A material is its building blocks: one metal node written as a SMILES (``unpublished.metal_block =
"smiles"``) followed by one or more organic linkers. Decoding yields RDKit molecules for every block,
a pymatgen ``Composition`` of the unit (one node plus one of each linker), element and valence checks,
a charge-balance estimate and, where RDKit can embed it, a pymatgen ``Molecule`` with 3D coordinates
per block. Parsing and charge policies are documented in ``material_chem``.

Checks have a severity: ``error`` checks decide ``valid``; ``warning`` checks (lenient node parsing,
the charge estimate) are reported but do not, because they rest on heuristics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pymatgen.core.composition import Composition
from rdkit import Chem

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.blocks import Block, Stray, TaskMarker, parse_blocks
from logos_tools.grammar.material_chem import (
    Geometry,
    balance_ratio,
    composition_of,
    embed,
    linker_charge,
    metals_of,
    node_charge,
    node_valence_problem,
    parse_lenient,
)
from logos_tools.grammar.molecule import check_smiles_text, mol_to_canonical, prompt_smiles
from logos_tools.grammar.profile import Profile

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class MaterialCheck:
    """One named check on a material and its verdict."""

    name: str
    passed: bool
    severity: Severity
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"name": self.name, "passed": self.passed, "severity": self.severity, "detail": self.detail}


@dataclass(frozen=True)
class MaterialPart:
    """One building block: the metal node or a linker."""

    role: Literal["node", "linker"]
    smiles: str
    canonical: str
    mol: Chem.Mol
    sanitize: str
    composition: Composition
    charge: int
    charge_method: str
    geometry: Geometry | None
    start: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "role": self.role,
            "smiles": self.smiles,
            "canonical": self.canonical,
            "sanitize": self.sanitize,
            "formula": self.composition.formula,
            "charge_estimate": self.charge,
            "charge_method": self.charge_method,
            "geometry": self.geometry.to_dict() if self.geometry else None,
            "start": self.start,
        }


@dataclass(frozen=True)
class ChargeBalance:
    """Estimated charges of node and linkers, and the smallest neutral (nodes, linker sets) ratio."""

    node: int
    linkers: tuple[int, ...]
    ratio: tuple[int, int] | None

    @property
    def net(self) -> int:
        """Charge of the unit as written (one node plus one of each linker)."""
        return self.node + sum(self.linkers)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        ratio = {"nodes": self.ratio[0], "linker_sets": self.ratio[1]} if self.ratio else None
        return {"node": self.node, "linkers": list(self.linkers), "net": self.net, "neutral_ratio": ratio}


@dataclass(frozen=True)
class DecodedMaterial:
    """A decoded material: its node, linkers, unit composition, charge estimate and checks."""

    node: MaterialPart
    linkers: tuple[MaterialPart, ...]
    composition: Composition
    charge: ChargeBalance
    checks: tuple[MaterialCheck, ...]
    start: int
    end: int

    @property
    def valid(self) -> bool:
        """True when every error-severity check passed."""
        return all(check.passed for check in self.checks if check.severity == "error")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "kind": "material",
            "valid": self.valid,
            "node": self.node.to_dict(),
            "linkers": [linker.to_dict() for linker in self.linkers],
            "composition": {
                "formula": self.composition.formula,
                "reduced_formula": self.composition.reduced_formula,
                "elements": {str(el): _number(amount) for el, amount in self.composition.items()},
                "weight": round(float(self.composition.weight), 4),
            },
            "charge_balance": self.charge.to_dict(),
            "checks": [check.to_dict() for check in self.checks],
            "start": self.start,
            "end": self.end,
        }


def _number(amount: float) -> int | float:
    return int(amount) if float(amount).is_integer() else float(amount)


def _part(
    role: Literal["node", "linker"], smiles: str, profile: Profile, *, start: int, label: str, geometry: bool
) -> tuple[MaterialPart, list[MaterialCheck]]:
    parsed = parse_lenient(check_smiles_text(smiles, f"{label} SMILES", profile), f"{label} SMILES")
    mol = parsed.mol
    charge, method = node_charge(mol) if role == "node" else linker_charge(mol)
    with_geometry = embed(mol) if geometry else None
    part = MaterialPart(
        role=role,
        smiles=smiles,
        canonical=mol_to_canonical(mol, profile),
        mol=mol,
        sanitize=parsed.sanitize,
        composition=composition_of(mol),
        charge=charge,
        charge_method=method,
        geometry=with_geometry,
        start=start,
    )
    metals = metals_of(mol)
    checks: list[MaterialCheck] = []
    if role == "node":
        checks.append(MaterialCheck("node_has_metal", bool(metals), "error", f"metals: {metals or 'none'}"))
        problem = node_valence_problem(mol)
        checks.append(
            MaterialCheck(
                "node_valence", problem is None, "error", problem or "non-metal atoms within their valence"
            )
        )
        checks.append(
            MaterialCheck(
                "node_sanitized",
                parsed.sanitize == "full",
                "warning",
                f"parsed with RDKit sanitization level {parsed.sanitize!r}"
                + (f" ({parsed.problem})" if parsed.problem else ""),
            )
        )
    else:
        name = label.replace(" ", "_")
        has_carbon = part.composition["C"] > 0
        checks.append(
            MaterialCheck(
                f"{name}_organic",
                has_carbon and not metals,
                "error",
                "contains carbon and no metal"
                if has_carbon and not metals
                else f"carbon: {'yes' if has_carbon else 'no'}, metals: {metals or 'none'}",
            )
        )
        checks.append(
            MaterialCheck(
                f"{name}_valence",
                parsed.sanitize == "full",
                "error",
                parsed.problem or "passes RDKit sanitization",
            )
        )
    return part, checks


def _assemble(
    node: tuple[MaterialPart, list[MaterialCheck]],
    linkers: Sequence[tuple[MaterialPart, list[MaterialCheck]]],
    start: int,
    end: int,
) -> DecodedMaterial:
    node_part, checks = node[0], list(node[1])
    for _, linker_checks in linkers:
        checks.extend(linker_checks)
    parts = tuple(part for part, _ in linkers)
    composition = node_part.composition + sum((p.composition for p in parts), Composition())
    charges = tuple(p.charge for p in parts)
    balance = ChargeBalance(
        node=node_part.charge, linkers=charges, ratio=balance_ratio(node_part.charge, sum(charges))
    )
    checks.append(
        MaterialCheck(
            "charge_balance",
            balance.ratio is not None,
            "warning",
            f"node {balance.node:+d}, linkers {sum(charges):+d}: "
            + (
                f"{balance.ratio[0]} node(s) per {balance.ratio[1]} linker set(s) are neutral"
                if balance.ratio
                else "no small neutral ratio"
            )
            + f" (estimate: {node_part.charge_method} / {', '.join(sorted({p.charge_method for p in parts}))})",
        )
    )
    return DecodedMaterial(
        node=node_part,
        linkers=parts,
        composition=composition,
        charge=balance,
        checks=tuple(checks),
        start=start,
        end=end,
    )


def encode_material(node_smiles: str, linkers: Sequence[str], profile: Profile) -> str:
    """The material block of one metal node and its organic linkers.

    Raises:
        EncodeError: no linkers, a SMILES RDKit cannot read, a node without a metal, a linker that
            is not organic (no carbon, or a metal) or breaks valence rules; or tag-like text.
    """
    if isinstance(linkers, str) or not linkers:
        raise EncodeError(
            f"A material needs a list of one or more linker SMILES, got {linkers!r}. "
            "Pass e.g. linkers=['OC(=O)c1ccc(C(=O)O)cc1']."
        )
    node, node_checks = _part("node", node_smiles, profile, start=0, label="metal node", geometry=False)
    for check in node_checks:
        if check.severity == "error" and not check.passed:
            raise EncodeError(
                f"Metal node SMILES {node_smiles!r} fails {check.name}: {check.detail}. "
                "Pass the SMILES of the metal node, e.g. '[Zn][O]([Zn])([Zn])[Zn]'."
            )
    blocks = []
    for index, linker in enumerate(linkers, start=1):
        # Linkers are ordinary organic molecules: RDKit must sanitize them fully (prompt_smiles raises).
        text = prompt_smiles(linker, profile, what=f"linker {index} SMILES")
        _, linker_checks = _part("linker", linker, profile, start=0, label=f"linker {index}", geometry=False)
        failed = [c for c in linker_checks if c.severity == "error" and not c.passed]
        if failed:
            raise EncodeError(
                f"Linker {index} SMILES {linker!r} fails {failed[0].name}: {failed[0].detail}. "
                "Linkers are organic: pass a carbon-based molecule without metals."
            )
        blocks.append(profile.wrap("molecule", text))
    written_node = node.canonical if profile.unpublished.prompt_smiles == "canonical" else node_smiles.strip()
    return profile.wrap("material", profile.wrap("metal", written_node) + "".join(blocks))


def decode_material_block(
    block: Block, text: str, profile: Profile, *, geometry: bool = True
) -> DecodedMaterial:
    """Decode one material block found by ``parse_blocks`` in ``text``.

    Raises:
        DecodeError: the block is truncated, holds stray text, does not start with exactly one metal
            block followed by one or more molecule blocks, or holds a SMILES RDKit cannot read.
    """
    if block.kind != "material":
        raise DecodeError(
            f"Expected a material block, found a {block.kind} block.", position=block.start, text=text
        )
    if not block.complete:
        raise DecodeError(
            f"The material block at position {block.start} has no {profile.end('material')} (truncated output).",
            position=len(text),
            text=text,
        )
    cursor = block.start + len(profile.start("material"))
    content_end = block.end - len(profile.end("material"))
    for child in [*block.children, None]:
        gap_end = child.start if child else content_end
        if text[cursor:gap_end].strip():
            raise DecodeError(
                f"Stray text {text[cursor:gap_end][:40]!r} at position {cursor} inside the material block; "
                "it may hold only one metal block and molecule blocks.",
                position=cursor,
                text=text,
            )
        cursor = child.end if child else cursor
    kinds = [child.kind for child in block.children]
    if kinds[:1] != ["metal"] or "metal" in kinds[1:] or len(kinds) < 2:
        raise DecodeError(
            f"The material block at position {block.start} holds {kinds or 'nothing'}; it must hold one "
            f"metal block first, then one or more molecule blocks.",
            position=block.start,
            text=text,
        )
    parts = []
    for index, child in enumerate(block.children):
        at = child.start + len(profile.start(child.kind))
        role: Literal["node", "linker"] = "node" if index == 0 else "linker"
        label = "metal node" if index == 0 else f"linker {index}"
        try:
            parts.append(
                _part(role, child.content, profile, start=child.start, label=label, geometry=geometry)
            )
        except EncodeError as exc:
            raise DecodeError(f"At position {at}: {exc}", position=at, text=text) from None
    return _assemble(parts[0], parts[1:], block.start, block.end)


def decode_material(text: str, profile: Profile, *, geometry: bool = True) -> DecodedMaterial:
    """Strictly decode text that is exactly one material block (surrounding whitespace allowed).

    ``geometry=False`` skips the 3D embedding (faster for large batches of samples).

    Raises:
        DecodeError: the text is not one complete, well-formed material block; carries the position.
    """
    parsed = parse_blocks(text, profile)
    for item in parsed.items:
        if isinstance(item, TaskMarker) or (isinstance(item, Stray) and item.text.strip()):
            label = item.token if isinstance(item, TaskMarker) else repr(item.text[:40])
            raise DecodeError(
                f"Expected one material block only, found {label} at position {item.start}.",
                position=item.start,
                text=text,
            )
    blocks = parsed.blocks
    if len(blocks) != 1:
        raise DecodeError(
            f"Expected exactly one material block, found {len(blocks)} blocks.",
            position=blocks[1].start if len(blocks) > 1 else 0,
            text=text,
        )
    return decode_material_block(blocks[0], text, profile, geometry=geometry)
