"""PNG depictions of molecule results: an RDKit grid of the top molecules, attached as image content."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from logos_tools.errors import LogosError
from logos_tools.store.exports import molecule_records, write_png

logger = logging.getLogger(__name__)

MAX_DEPICTED = 12
PER_ROW = 4
CELL_PIXELS = (240, 200)


def _smiles_of(items: Any) -> list[str] | None:
    """The SMILES of a list of molecules given as strings or ``{"smiles": ...}`` objects."""
    if not isinstance(items, list) or not items:
        return None
    smiles = [item.get("smiles") if isinstance(item, Mapping) else item for item in items]
    return [s for s in smiles if isinstance(s, str)] if all(isinstance(s, str) for s in smiles) else None


def depictable_records(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The molecules worth drawing in a result's JSON, best first.

    A reaction result (``candidates`` holding ``reactants`` or ``products``) is drawn one candidate
    set per cell, as a multi-fragment molecule; anything else draws its molecule records (objects with
    a ``smiles`` key, see ``logos_tools.store.exports``).
    """
    sets: list[dict[str, Any]] = []
    for candidate in data.get("candidates") or []:
        if not isinstance(candidate, Mapping):
            continue
        smiles = _smiles_of(candidate.get("reactants")) or _smiles_of(candidate.get("products"))
        if smiles:
            sets.append({"smiles": ".".join(smiles), "rank": candidate.get("rank")})
    if sets:
        return sets
    return [record for record in molecule_records(data) if isinstance(record.get("smiles"), str)]


def molecule_grid_png(data: Mapping[str, Any], *, max_molecules: int = MAX_DEPICTED) -> bytes | None:
    """A PNG grid of the result's top molecules, or None when it holds none that RDKit can draw.

    A depiction is decoration next to the structured result: when drawing fails the reason is logged
    and the tool answer goes out without it.
    """
    records = depictable_records(data)[:max_molecules]
    if not records:
        return None
    legend = "rank" if all("rank" in record for record in records) else None
    with tempfile.TemporaryDirectory(prefix="logos-mcp-") as folder:
        target = Path(folder) / "molecules.png"
        try:
            write_png(
                records,
                target,
                legend=legend,
                max_molecules=max_molecules,
                per_row=PER_ROW,
                cell_size=CELL_PIXELS,
            )
        except LogosError as exc:
            logger.info("No molecule depiction: %s", exc)
            return None
        return target.read_bytes()
