"""Shared pieces of the LangChain tests: the toolkit on the demo model and a realistic call per tool."""

from __future__ import annotations

from typing import Any

from logos_tools.shipped import grammar_dir

FIXTURES = grammar_dir() / "fixtures"
HIV_PROTEASE_1HVR = str(FIXTURES / "structures" / "1hvr.pdb")
# Chain A of PDB 4E43 (HIV-1 protease), the sequence the pocket fixtures use.
HIV_PROTEASE = (
    "PQITLWKRPLVTIKIGGQLKEALLDTGADDTVLEEMNLPGRWKPKMIGGIGGFIKVRQYDQILIEICGHKAIGTVLVGPTPVNIIGRNLLTQIGCTLNF"
)
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"

# One realistic call per tool, small enough for the 2-core CI machine (few samples, short answers).
# get_job needs a job of the same toolkit; its arguments are filled in by the test fixture.
EXAMPLES: dict[str, dict[str, Any]] = {
    "retrosynthesis": {"product": PARACETAMOL, "num_samples": 4, "seed": 7},
    "predict_reaction": {"reactants": ["CC(=O)Cl", "Nc1ccc(O)cc1"], "num_samples": 4, "seed": 7},
    "find_binding_sites": {"structure_path": HIV_PROTEASE_1HVR, "chain": "A", "num_samples": 2, "seed": 7},
    "design_ligands": {
        "structure_path": HIV_PROTEASE_1HVR,
        "ligand": "XK2",
        "chain": "A",
        "num_molecules": 2,
        "max_samples": 8,
        "seed": 7,
    },
    "generate_molecules": {"num_molecules": 3, "max_samples": 12, "seed": 7},
    "generate_mofs": {"num_materials": 2, "max_samples": 4, "seed": 7},
    "score_protein_variants": {"wild_type": HIV_PROTEASE, "mutations": ["D25N", "I84V"]},
    "complete_sequence": {"prefix": HIV_PROTEASE[:40], "num_samples": 2, "max_new_tokens": 24, "seed": 7},
    "score_objects": {
        "objects": [
            {"kind": "molecule", "value": PARACETAMOL},
            {"kind": "protein", "value": HIV_PROTEASE[:30]},
        ]
    },
    "complete_grammar": {"prompt": "<MoleculeS>CC(=O)N", "num_samples": 2, "max_new_tokens": 24, "seed": 7},
    "list_models": {},
    "get_job": {"job_id": "j-0123456789ab"},  # the integration suite polls a real job instead
}
