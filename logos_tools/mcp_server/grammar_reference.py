"""The grammar reference resource: a markdown rendering of the active grammar profile."""

from __future__ import annotations

from logos_tools.grammar.profile import Profile


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def grammar_reference(profile: Profile) -> str:
    """Tags, task templates, sampling defaults and the unpublished settings of ``profile``, as markdown."""
    info = profile.profile
    lines = [
        f"# LOGOS grammar: profile {info.name} (version {info.version})",
        "",
        info.description,
        "",
        "Prompts and answers are raw text built from tags (no chat template). Tags are single tokens, "
        "written with no spaces around them. Tools build prompts for you; `complete_grammar` takes raw "
        "grammar text.",
        "",
        "## Block tags",
        "",
        "| kind | start | end |",
        "|---|---|---|",
    ]
    lines += [f"| {kind} | `{start}` | `{end}` |" for kind, (start, end) in profile.tags.items()]
    lines += ["", "## Task tokens", "", "| task | token |", "|---|---|"]
    lines += [f"| {name} | `{token}` |" for name, token in profile.task_tokens.items()]
    lines += [
        "",
        "## Task templates",
        "",
        "`{placeholders}` are filled by the tools; `eos` is the model's end of generation.",
        "",
        "| task | prompt | answer | stop | samples | max new tokens |",
        "|---|---|---|---|---|---|",
    ]
    for name, task in profile.tasks.items():
        lines.append(
            f"| {name} | `{_cell(task.prompt)}` | {task.answer} | {', '.join(f'`{s}`' for s in task.stop)} | "
            f"{task.samples} | {task.max_new_tokens} |"
        )
    sampling = profile.sampling
    lines += [
        "",
        "## Sampling defaults (LOGOS reference scripts)",
        "",
        f"temperature {sampling.temperature:g}, top_p {sampling.top_p:g}, top_k {sampling.top_k}, "
        f"repetition penalty {sampling.repetition_penalty:g}. Samples are ranked by the perplexity of "
        "prompt plus completion.",
        "",
        "## Settings the LOGOS authors did not publish",
        "",
        "Defaults chosen by logos-tools; change them in a copy of the profile (LOGOS_PROFILE=/path/to/copy.toml).",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | `{_cell(value)}` |" for key, value in profile.unpublished.model_dump().items()]
    lines += [
        "",
        "## Examples",
        "",
        f"- molecule: `{profile.wrap('molecule', 'CC(=O)Oc1ccccc1C(=O)O')}`",
        f"- pocket-marked protein: `{profile.start('protein')}MKT{profile.wrap('pocket', 'L')}AV"
        f"{profile.wrap('pocket', 'F')}G{profile.end('protein')}`",
        f"- material: `{profile.start('material')}{profile.wrap('metal', '[Zn]')}"
        f"{profile.wrap('molecule', 'OC(=O)c1ccc(C(=O)O)cc1')}{profile.end('material')}`",
        "",
        f"Residues with a SMILES form for expanded pockets: {len(profile.residue_smiles)}.",
    ]
    return "\n".join(lines)
