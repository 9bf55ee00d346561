"""The fixed probe set for tokenizer parity: 1,000+ strings built deterministically from packaged data.

SMILES come from RDKit's packaged NCI list (``Data/NCI/first_5K.smi``, real molecules), found
through the installed package without importing RDKit; proteins, pocket marks, materials and tag
sequences are generated from a fixed seed in the grammar's own formats; the odd-text part covers
what byte-level BPE pre-tokenizers split differently: whitespace runs, newlines, digits, unicode
letters and marks, emoji (including joined sequences), contractions and punctuation runs.
All strings are NFC, since llama.cpp does not apply the Qwen tokenizers' NFC normalizer.
"""

from __future__ import annotations

import functools
import importlib.util
import random
import unicodedata
from pathlib import Path

from logos_tools.errors import MissingDependencyError
from logos_tools.grammar.profile import Profile

_SEED = 20260615
_AMINO = "ACDEFGHIKLMNPQRSTVWY"
_METAL_NODES = (
    "[Zn]",
    "[Cu]",
    "[Cu][Cu]",
    "[Zr]",
    "[Co]",
    "[Mg]",
    "O=[Zn]O",
    "[O-][Zr]([O-])([O-])[O-]",
    "[Fe+3]",
    "[Al](O)",
)
_ODD_TEXT = (
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\n\n",
    " \n ",
    "\r\n",
    "a  b   c    d",
    "line one\nline two\n\nline four",
    "trailing spaces   ",
    "   leading spaces",
    "tabs\tin\tbetween",
    "0",
    "7",
    "42",
    "123",
    "1234",
    "12345678901234567890",
    "3.14159",
    "-0.5e-10",
    "1,000,000",
    "2026-06-15",
    "v1.2.3",
    "I'm here; they're there; it's fine; we'll see; you'd know; I've done it",
    "DON'T SHOUT, it'S OK",
    "café naïve résumé Zürich Åsa Øresund",
    "Straße Größe",
    "αβγ Δ λ=450 nm μM",
    "Привет мир",
    "日本語のテキスト",
    "中文字符和数字123",
    "한국어 문장",
    "مرحبا بالعالم",
    "עברית",
    "हिन्दी पाठ",
    "ไทย",
    "🙂",
    "🧪🧬⚗️",
    "👩‍🔬 👨‍👩‍👧‍👦",
    "🇩🇪🇯🇵",
    "x² + y³ = z⁴",
    "H₂O CO₂ Fe₂O₃",
    "ΔG = −7.6 kcal/mol",
    "± ≤ ≥ ≠ ≈ ∞ √ ∑ ∫",
    "«quotes» “curly” ‘single’ „low“",
    "…ellipsis— dash – en",
    "!!!???...",
    "((([[[{{{",
    "}}}]]])))",
    "a\u00a0non-breaking space",
    "zero\u200bwidth",
    "<notatag>",
    "<MoleculeS",
    "MoleculeE>",
    "< MoleculeS >",
    "<|not_special|>",
    "<s> </s> <unk>",
    "https://example.org/path?q=1&r=2",
    "user@example.com",
    "C:\\path\\to\\file.gguf",
    "/usr/local/bin/logos",
    "snake_case camelCase PascalCase kebab-case",
    "ALLCAPS lowercase MiXeD",
    "tokens'with'apostrophes",
    "   \n\t  \n",
    "end with newline\n",
    "ends with space ",
    "#hashtag @mention $dollar %percent ^caret &amp *star",
    "smiles-like but text: C(C)C and N#N",
    "The IC50 was 12.5 nM (n=3, p<0.05).",
    "Protein: MKTAYIAKQR, ligand: CCO, Kd=1e-9",
)


@functools.cache
def _nci_smiles() -> tuple[str, ...]:
    spec = importlib.util.find_spec("rdkit")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "Data" / "NCI" / "first_5K.smi"
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            return tuple(line.split()[0] for line in lines if line.strip())
    raise MissingDependencyError("rdkit", "chem", "The tokenizer probe set (RDKit's packaged NCI SMILES)")


def _protein(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_AMINO) for _ in range(rng.randint(low, high)))


def _pocket_marked(rng: random.Random, sequence: str, profile: Profile) -> str:
    start, end = profile.tags["pocket"]
    return "".join(f"{start}{ch}{end}" if rng.random() < 0.15 else ch for ch in sequence)


def tokenizer_probe_strings(profile: Profile) -> list[str]:
    """The probe strings (deterministic, NFC, at least 1,000) for ``profile``'s tags.

    Raises:
        MissingDependencyError: RDKit (which ships the SMILES list) is not installed.
    """
    rng = random.Random(_SEED)
    smiles = _nci_smiles()
    picked = [smiles[i] for i in range(3, len(smiles), 11)][:420]
    mol = profile.tags["molecule"]
    prot = profile.tags["protein"]
    material = profile.tags["material"]
    metal = profile.tags["metal"]
    antibody = profile.tags["antibody"]
    tasks = profile.task_tokens
    wrap_mol = [f"{mol[0]}{s}{mol[1]}" for s in picked[:200]]
    probes: list[str] = [*picked, *wrap_mol]
    for _ in range(80):
        product, r1, r2 = rng.sample(picked, 3)
        probes.append(
            f"{mol[0]}{product}{mol[1]}{tasks['reverse_react']}{mol[0]}{r1}{mol[1]}{mol[0]}{r2}{mol[1]}"
        )
        probes.append(f"{mol[0]}{r1}{mol[1]}{mol[0]}{r2}{mol[1]}{tasks['react']}{mol[0]}{product}{mol[1]}")
    for index in range(60):
        sequence = _protein(rng, 8, 400 if index % 10 == 0 else 120)
        probes.append(sequence)
        probes.append(f"{prot[0]}{sequence}{prot[1]}")
        marked = _pocket_marked(rng, sequence, profile)
        probes.append(f"{prot[0]}{sequence}{prot[1]}{tasks['search']}{prot[0]}{marked}{prot[1]}")
        if index % 3 == 0:
            probes.append(f"{prot[0]}{marked}{prot[1]}{mol[0]}{rng.choice(picked)}{mol[1]}")
            probes.append(f"{antibody[0]}{_protein(rng, 20, 130)}{antibody[1]}")
    for _ in range(60):
        node = rng.choice(_METAL_NODES)
        linkers = "".join(f"{mol[0]}{rng.choice(picked)}{mol[1]}" for _ in range(rng.randint(1, 3)))
        probes.append(f"{material[0]}{metal[0]}{node}{metal[1]}{linkers}{material[1]}")
    tags = list(profile.all_tags())
    probes.extend(tags)
    for _ in range(80):
        parts = rng.choices(tags, k=rng.randint(2, 6))
        glue = rng.choice(["", "", " ", "C", "CC", "\n", "M", "1"])
        probes.append(glue.join(parts))
    probes.extend(_ODD_TEXT)
    for _ in range(60):
        a, b = rng.sample(_ODD_TEXT, 2)
        probes.append(f"{a}{rng.choice(tags)}{b}")
        probes.append(f"{rng.choice(picked)} {rng.choice(_ODD_TEXT)}")
    return [unicodedata.normalize("NFC", p) for p in probes]
