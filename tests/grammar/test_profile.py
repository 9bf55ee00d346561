from pathlib import Path

import pytest

from logos_tools.errors import ProfileError
from logos_tools.grammar.profile import Profile, available_profiles, load_profile


def test_shipped_profile_lists_every_tag_and_task_token(profile: Profile) -> None:
    assert profile.name == "logos-v1"
    assert profile.wrap("molecule", "CCO") == "<MoleculeS>CCO<MoleculeE>"
    assert set(profile.all_tags()) >= {
        "<PocketS>",
        "<MetalE>",
        "<ReverseReact>",
        "<Search>",
        "<Trans>",
        "<React>",
    }
    assert "logos-v1" in available_profiles()


def test_reference_task_templates_match_the_published_prompts(profile: Profile) -> None:
    assert profile.task("retrosynthesis").prompt == "<MoleculeS>{product}<MoleculeE><ReverseReact>"
    assert profile.task("binding_site").prompt == "<ProteinS>{sequence}<ProteinE><Search><ProteinS>"
    assert profile.task("mof_generation").prompt.startswith("<MaterialS>")
    assert profile.task("retrosynthesis").samples == 32
    assert profile.task("binding_site").samples == 40
    assert (profile.sampling.temperature, profile.sampling.top_p, profile.sampling.repetition_penalty) == (
        1.2,
        0.85,
        1.05,
    )


def test_unknown_task_names_the_known_ones(profile: Profile) -> None:
    with pytest.raises(ProfileError, match="retrosynthesis"):
        profile.task("folding")


def test_profile_from_a_path_can_override_an_unpublished_setting(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "grammar" / "logos-v1.toml").read_text(encoding="utf-8")
    edited = source.replace("pocket_cutoff_angstrom = 6.0", "pocket_cutoff_angstrom = 8.0")
    path = tmp_path / "mine.toml"
    path.write_text(edited, encoding="utf-8")
    assert load_profile(str(path)).unpublished.pocket_cutoff_angstrom == 8.0


def test_malformed_profile_names_the_bad_key(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "grammar" / "logos-v1.toml").read_text(encoding="utf-8")
    path = tmp_path / "bad.toml"
    path.write_text(source.replace("top_p = 0.85", "top_p = 3.0"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"sampling\.top_p"):
        load_profile(str(path))


def test_missing_profile_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="logos-v1"):
        load_profile("no-such-profile")
