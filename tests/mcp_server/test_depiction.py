"""Which molecules a result's picture shows, and that it is a real PNG."""

from __future__ import annotations

from logos_tools.mcp_server.depiction import depictable_records, molecule_grid_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_reaction_candidates_are_drawn_one_set_per_cell_in_rank_order() -> None:
    data = {
        "candidates": [
            {"rank": 1, "reactants": [{"smiles": "CC(=O)O"}, {"smiles": "OCC"}]},
            {"rank": 2, "products": [{"smiles": "CCOC(C)=O"}]},
        ]
    }
    assert depictable_records(data) == [
        {"smiles": "CC(=O)O.OCC", "rank": 1},
        {"smiles": "CCOC(C)=O", "rank": 2},
    ]


def test_molecule_records_without_smiles_text_are_skipped() -> None:
    data = {"scores": [{"smiles": "CCO", "rank": 1}, {"smiles": None, "sequence": "MK", "rank": 2}]}
    assert depictable_records(data) == [{"smiles": "CCO", "rank": 1}]


def test_a_grid_is_drawn_for_valid_molecules_and_none_when_nothing_parses() -> None:
    png = molecule_grid_png(
        {"molecules": [{"smiles": "c1ccccc1O", "rank": 1}, {"smiles": "C1CC", "rank": 2}]}
    )
    assert png is not None
    assert png.startswith(PNG_MAGIC)
    assert molecule_grid_png({"molecules": [{"smiles": "C1CC", "rank": 1}]}) is None
    assert molecule_grid_png({"sequence": "MKT"}) is None
