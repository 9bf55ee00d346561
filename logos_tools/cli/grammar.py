"""``logos grammar``: encode values as LOGOS text, decode and validate LOGOS text."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from logos_tools.cli.output import emit, json_option
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.settings import Settings

KINDS = ("molecule", "protein", "pocket", "reaction", "material", "antibody")


def _profile(ctx: click.Context) -> Profile:
    name = ctx.obj if isinstance(ctx.obj, str) else Settings.from_env().profile
    return load_profile(name)


def _need(value: str | None, kind: str, example: str) -> str:
    if value is None or not value.strip():
        raise click.UsageError(f"encode {kind} needs a VALUE, e.g. logos grammar encode {kind} {example!r}.")
    return value


def _positions(raw: str | None, length: int) -> list[int]:
    if raw is None or not raw.strip():
        raise click.UsageError(
            "encode pocket needs --positions 1,5,9 (1-based) or --structure FILE --ligand RES."
        )
    try:
        one_based = [int(part) for part in raw.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(
            f"{raw!r} is not a comma-separated list of 1-based positions, e.g. 1,5,9.",
            param_hint="--positions",
        ) from None
    if any(p < 1 for p in one_based):
        raise click.BadParameter(
            f"positions {raw!r} must be 1-based (1 is the first residue).", param_hint="--positions"
        )
    outside = [p for p in one_based if p > length]
    if outside:
        # Checked here so the message speaks the CLI's 1-based numbering, not the encoder's 0-based one.
        raise click.BadParameter(
            f"position {outside[0]} is outside the {length}-residue sequence. "
            f"Pass 1-based positions from 1 to {length}.",
            param_hint="--positions",
        )
    return [p - 1 for p in one_based]


def _read_text(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


@click.group()
@click.option("--profile", "profile_name", default=None, help="Grammar profile name or .toml path.")
@click.pass_context
def grammar(ctx: click.Context, profile_name: str | None) -> None:
    """Encode values as LOGOS grammar text, decode it, and validate it.

    \b
    Examples:
      logos grammar encode molecule 'OC(=O)c1ccccc1OC(C)=O' --json
      logos grammar encode reaction 'CC(=O)O.OCC>>CC(=O)OCC' --direction retro
      logos grammar encode pocket MKTLAVFG --positions 4,7
      logos grammar encode material --node '[Zn][O]([Zn])([Zn])[Zn]' --linker 'OC(=O)c1ccc(C(=O)O)cc1'
      logos grammar decode '<MoleculeS>CCO<MoleculeE>' --json
      echo '<MoleculeS>C1CC<MoleculeE>' | logos grammar validate -
    """
    ctx.obj = profile_name


@grammar.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("value", required=False)
@click.option(
    "--structure", type=click.Path(dir_okay=False), help="pocket: protein-ligand complex (PDB/mmCIF)."
)
@click.option("--ligand", help="pocket: ligand residue name in the structure, e.g. ATP.")
@click.option("--chain", help="pocket: protein chain (default: the chain with most pocket residues).")
@click.option("--ligand-chain", help="pocket: chain of the ligand, when several match.")
@click.option("--ligand-resnum", type=int, help="pocket: residue number of the ligand, when several match.")
@click.option(
    "--cutoff", type=float, help="pocket: heavy-atom distance cutoff in Å (default from the profile)."
)
@click.option("--positions", help="pocket without a structure: 1-based pocket positions, e.g. 1,5,9.")
@click.option(
    "--direction",
    type=click.Choice(["retro", "forward"]),
    default="retro",
    show_default=True,
    help="reaction: retro writes the product first (retrosynthesis prompt), forward the reactants.",
)
@click.option("--node", help="material: SMILES of the metal node.")
@click.option("--linker", "linkers", multiple=True, help="material: SMILES of a linker (repeat for more).")
@click.option("--light", help="antibody: light chain (profiles with the heavy_light layout).")
@json_option
@click.pass_context
def encode(
    ctx: click.Context,
    kind: str,
    value: str | None,
    structure: str | None,
    ligand: str | None,
    chain: str | None,
    ligand_chain: str | None,
    ligand_resnum: int | None,
    cutoff: float | None,
    positions: str | None,
    direction: str,
    node: str | None,
    linkers: Sequence[str],
    light: str | None,
    as_json: bool,
) -> None:
    """Write VALUE as LOGOS text. KIND: molecule, protein, pocket, reaction, material, antibody."""
    profile = _profile(ctx)
    result: dict[str, Any]
    if kind == "molecule":
        from logos_tools.grammar.molecule import canonical_smiles, encode_molecule

        smiles = _need(value, kind, "CCO")
        text = encode_molecule(smiles, profile)
        result = {"canonical": canonical_smiles(smiles, profile)}
    elif kind == "protein":
        from logos_tools.grammar.protein import encode_protein

        text = encode_protein(_need(value, kind, "MKTAYIAK"), profile)
        result = {}
    elif kind == "pocket":
        result, text = _encode_pocket(
            value, profile, structure, ligand, chain, ligand_chain, ligand_resnum, cutoff, positions
        )
    elif kind == "reaction":
        from logos_tools.grammar.reaction import encode_reaction, parse_reaction_smiles

        reaction = parse_reaction_smiles(_need(value, kind, "CC(=O)O.OCC>>CC(=O)OCC"), profile)
        text = encode_reaction(
            reaction.reactants, reaction.products, "retro" if direction == "retro" else "forward", profile
        )
        result = {"direction": direction, **reaction.to_dict()}
    elif kind == "material":
        from logos_tools.grammar.material import encode_material

        if not node or not linkers:
            raise click.UsageError("encode material needs --node SMILES and at least one --linker SMILES.")
        text = encode_material(node, list(linkers), profile)
        result = {"node": node, "linkers": list(linkers)}
    else:
        from logos_tools.grammar.antibody import encode_antibody

        text = encode_antibody(_need(value, kind, "EVQLVESGGG"), light, profile)
        result = {}
    emit({"kind": kind, "input": value, **result, "text": text}, as_json=as_json, text=text)


def _encode_pocket(
    value: str | None,
    profile: Profile,
    structure: str | None,
    ligand: str | None,
    chain: str | None,
    ligand_chain: str | None,
    ligand_resnum: int | None,
    cutoff: float | None,
    positions: str | None,
) -> tuple[dict[str, Any], str]:
    from logos_tools.grammar.pocket import encode_pocket_protein

    if structure is None:
        sequence = _need(value, "pocket", "MKTLAVFG")
        positions0 = _positions(positions, len(sequence.strip()))
        text = encode_pocket_protein(sequence, positions0, profile)
        return {"positions": positions0, "positions_1based": [p + 1 for p in positions0]}, text
    if not ligand:
        raise click.UsageError("encode pocket --structure FILE needs --ligand RESNAME (e.g. --ligand ATP).")
    if value is not None or positions is not None:
        raise click.UsageError(
            "encode pocket takes either --structure FILE --ligand RES, or SEQUENCE --positions."
        )
    from logos_tools.grammar.complex_pocket import pocket_from_complex

    pocket = pocket_from_complex(
        structure,
        ligand=ligand,
        chain=chain,
        ligand_chain=ligand_chain,
        ligand_resnum=ligand_resnum,
        cutoff=cutoff,
        profile=profile,
    )
    text = encode_pocket_protein(pocket.sequence, pocket.positions, profile)
    return {
        **pocket.to_dict(),
        "positions_1based": [p + 1 for p in pocket.positions],
        "structure": structure,
    }, text


def _summary(decoded: Any) -> str:
    lines = []
    for block in decoded.blocks:
        shown = ""
        if block.value:
            shown = (
                block.value.get("canonical") or block.value.get("sequence") or block.value.get("heavy") or ""
            )
            if block.kind == "material":
                shown = block.value["composition"]["formula"]
        verdict = "ok" if block.valid else "INVALID"
        lines.append(f"{block.kind} [{block.start}:{block.end}] {verdict} {shown}".rstrip())
    lines += [f"problem: {problem}" for problem in decoded.problems]
    return "\n".join(lines) or "no blocks"


@grammar.command()
@click.argument("text")
@click.option("--no-geometry", is_flag=True, help="Skip 3D embedding of material blocks.")
@json_option
@click.pass_context
def decode(ctx: click.Context, text: str, no_geometry: bool, as_json: bool) -> None:
    """Decode LOGOS TEXT (or - for stdin) into checked objects; exit 1 when a problem is found."""
    from logos_tools.grammar.decode import decode_text

    decoded = decode_text(_read_text(text), _profile(ctx), geometry=not no_geometry)
    emit(decoded.to_dict(), as_json=as_json, text=_summary(decoded))
    if not decoded.valid:
        click.echo(f"error: {decoded.problems[0]}", err=True)
        ctx.exit(1)


@grammar.command()
@click.argument("text")
@json_option
@click.pass_context
def validate(ctx: click.Context, text: str, as_json: bool) -> None:
    """Check LOGOS TEXT (or - for stdin): exit 0 when valid, 1 with the reasons when not."""
    from logos_tools.errors import DecodeError
    from logos_tools.grammar.decode import decode_text

    try:
        decoded = decode_text(_read_text(text), _profile(ctx), geometry=False)
        problems = list(decoded.problems)
    except DecodeError as exc:
        problems = [str(exc)]
    emit(
        {"valid": not problems, "problems": problems},
        as_json=as_json,
        text="valid" if not problems else "invalid:\n" + "\n".join(f"  {p}" for p in problems),
    )
    if problems:
        click.echo(f"error: {problems[0]}", err=True)
        ctx.exit(1)
