"""The tool names: a contract that agents, docs and checks rely on. Import-light on purpose."""

TOOL_NAMES = (
    "retrosynthesis",
    "predict_reaction",
    "find_binding_sites",
    "design_ligands",
    "generate_molecules",
    "generate_mofs",
    "score_protein_variants",
    "complete_sequence",
    "score_objects",
    "complete_grammar",
    "list_models",
    "get_job",
)
