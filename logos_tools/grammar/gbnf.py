"""GBNF grammars for constrained decoding of LOGOS answers (llama.cpp grammar syntax).

The shipped grammars live in ``grammar/gbnf/`` and are written with the logos-v1 tags; ``load_gbnf``
rewrites those tag literals to the active profile's tags. ``pocket_answer_gbnf`` generates a grammar
that can only reproduce a given sequence, letter by letter, with optional pocket marks.

The LOGOS tags are single tokens; llama.cpp matches a grammar against each token's text, so a quoted
tag such as ``"<MoleculeE>"`` matches that one token. ``check_gbnf`` parses a grammar with llama.cpp's
own parser (llama-cpp-python, imported only there).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from logos_tools.errors import MissingDependencyError, ProfileError
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.shipped import grammar_dir

GbnfName = Literal["molecule_block", "molecule_set", "protein_sequence", "material_block"]
GBNF_NAMES: tuple[GbnfName, ...] = ("molecule_block", "molecule_set", "protein_sequence", "material_block")
_SOURCE_PROFILE = "logos-v1"  # the tags the shipped files are written with
_RESIDUES_PER_RULE = 60  # keeps every generated line short; rule count grows as length / 60


def gbnf_literal(text: str) -> str:
    """``text`` as a quoted GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def gbnf_token(tag: str) -> str:
    """A GBNF token reference: matches exactly the single vocabulary token ``tag`` (needs the model's
    vocabulary to compile), so a model cannot spell a tag out of ordinary pieces."""
    return tag


_QUOTED_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|#[^\n]*')
_TOKEN_REFERENCE = re.compile(r"<[A-Za-z|_/][A-Za-z0-9|_/]*>")


def token_references_as_literals(grammar: str) -> str:
    """The grammar with every token reference turned into a quoted literal of the same text, for
    syntax checks without a vocabulary."""
    pieces: list[str] = []
    last = 0
    for match in _QUOTED_OR_COMMENT.finditer(grammar):
        pieces.append(_TOKEN_REFERENCE.sub(lambda m: gbnf_literal(m.group()), grammar[last : match.start()]))
        pieces.append(match.group())
        last = match.end()
    pieces.append(_TOKEN_REFERENCE.sub(lambda m: gbnf_literal(m.group()), grammar[last:]))
    return "".join(pieces)


def load_gbnf(name: GbnfName, profile: Profile) -> str:
    """The shipped grammar ``name`` with its tag literals set to ``profile``'s tags.

    Raises:
        ProfileError: no shipped grammar has that name.
    """
    path = grammar_dir() / "gbnf" / f"{name}.gbnf"
    if name not in GBNF_NAMES or not path.is_file():
        raise ProfileError(
            f"No shipped GBNF grammar {name!r} (looked for {path}). Known: {', '.join(GBNF_NAMES)}."
        )
    text = path.read_text(encoding="utf-8")
    source = load_profile(_SOURCE_PROFILE)
    for kind, (start, end) in source.tags.items():
        text = text.replace(gbnf_token(start), gbnf_token(profile.start(kind)))
        text = text.replace(gbnf_token(end), gbnf_token(profile.end(kind)))
    return text


def pocket_answer_gbnf(sequence: str, profile: Profile) -> str:
    """A grammar whose only strings are ``sequence`` letter by letter, any residue optionally wrapped in
    pocket tags, then the protein end tag (the binding-site answer).

    The start tag is included only when the profile's binding-site prompt does not already end with
    it. Size: one rule per distinct letter plus one rule per 60 residues.

    Raises:
        EncodeError: the sequence is not a valid protein sequence (see ``protein.check_sequence``).
        ProfileError: the profile has no ``binding_site`` task.
    """
    from logos_tools.grammar.protein import check_sequence

    checked = check_sequence(sequence, what="input sequence")
    pocket_start, pocket_end = profile.tags["pocket"]
    protein_start, protein_end = profile.tags["protein"]
    opened = profile.task("binding_site").prompt.endswith(protein_start)
    lines = [f"# Pocket-marked answer for a {len(checked)}-residue sequence (generated)."]
    chunks = [checked[i : i + _RESIDUES_PER_RULE] for i in range(0, len(checked), _RESIDUES_PER_RULE)]
    head = "" if opened else gbnf_token(protein_start) + " "
    body = " ".join(f"part{i}" for i in range(len(chunks)))
    lines.append(f"root ::= {head}{body} {gbnf_token(protein_end)}")
    lines += [
        f"part{i} ::= " + " ".join(f"res-{letter}" for letter in chunk) for i, chunk in enumerate(chunks)
    ]
    lines += [
        f"res-{letter} ::= {gbnf_literal(letter)} | "
        f"{gbnf_token(pocket_start)} {gbnf_literal(letter)} {gbnf_token(pocket_end)}"
        for letter in sorted(set(checked))
    ]
    return "\n".join(lines) + "\n"


def check_gbnf(grammar: str, *, root: str = "root") -> None:
    """Parse ``grammar`` with llama.cpp's grammar parser; llama.cpp's own message becomes the error.

    ``llama_cpp.LlamaGrammar.from_string`` only stores the text (llama-cpp-python 0.3.x) and leaks a
    /dev/null handle, so this builds llama.cpp's grammar sampler, which parses it, without a vocabulary.

    Raises:
        ProfileError: llama.cpp rejects the grammar (the message quotes its parser).
        MissingDependencyError: llama-cpp-python is not installed.
    """
    try:
        import llama_cpp
    except ImportError:
        raise MissingDependencyError("llama-cpp-python", "llama", "Checking GBNF grammars") from None
    messages: list[str] = []
    with _stderr_into(messages):
        # Without a vocabulary llama.cpp cannot resolve token references: check them as literals.
        syntax_only = token_references_as_literals(grammar)
        sampler = llama_cpp.llama_sampler_init_grammar(
            None, syntax_only.encode("utf-8"), root.encode("utf-8")
        )
    if not sampler:
        reason = " ".join("".join(messages).split()) or "no message"
        raise ProfileError(f"llama.cpp rejects the GBNF grammar: {reason[:300]}. Fix the grammar text.")
    llama_cpp.llama_sampler_free(sampler)


@contextmanager
def _stderr_into(messages: list[str]) -> Iterator[None]:
    """Send the process's fd 2 to ``messages``: llama.cpp prints parser errors with fprintf(stderr)."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            messages.append(sink.read().decode("utf-8", errors="replace"))
