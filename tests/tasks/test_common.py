import pytest

from logos_tools.tasks.common import to_clause


@pytest.mark.parametrize(
    ("message", "clause"),
    [
        ("Pass a valid SMILES.", "Pass a valid SMILES"),
        ("Pass a valid SMILES. ", "Pass a valid SMILES"),
        ("unclosed ring", "unclosed ring"),
        ("e.g. <MoleculeS>CCO<MoleculeE>.", "e.g. <MoleculeS>CCO<MoleculeE>"),
        ("the text was clipped...", "the text was clipped..."),
        ("", ""),
    ],
)
def test_a_clause_drops_one_final_period_but_keeps_an_ellipsis(message: str, clause: str) -> None:
    assert to_clause(message) == clause


def test_a_clause_followed_by_a_period_never_doubles_it() -> None:
    for message in ("Fix it.", "Fix it", "Fix it. "):
        assert f"{to_clause(message)}. Then retry." == "Fix it. Then retry."
