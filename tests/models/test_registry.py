from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from logos_tools.errors import InputError, ModelError, ModelFileError, ModelNotFoundError
from logos_tools.models.atomic import temporary_output
from logos_tools.models.manifest import load_manifest
from logos_tools.models.registry import ModelRegistry
from logos_tools.settings import Settings
from tests.models.manifest_text import manifest_with_demo_files


@pytest.fixture
def registry(isolated_home: Path) -> ModelRegistry:
    return ModelRegistry.from_settings(Settings.from_env())


@pytest.fixture
def model_copy(tiny_llama_q8: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tiny-q8.gguf"
    shutil.copyfile(tiny_llama_q8, path)
    return path


def test_registry_lives_under_logos_home(registry: ModelRegistry, isolated_home: Path) -> None:
    assert registry.path == isolated_home / "models.json"
    assert registry.models_dir == isolated_home / "models"


def test_add_list_resolve_remove_round_trip(registry: ModelRegistry, model_copy: Path) -> None:
    entry = registry.add(model_copy, name="tiny")
    assert entry.sha256 == hashlib.sha256(model_copy.read_bytes()).hexdigest()
    assert entry.size == model_copy.stat().st_size
    assert (entry.architecture, entry.quantization) == ("llama", "Q8_0")
    assert [e.name for e in registry.entries()] == ["tiny"]
    listed = {row.name: row for row in registry.list_models()}
    assert listed["tiny"].status == "registered"
    resolved = registry.resolve("tiny")
    assert (resolved.path, resolved.sha256, resolved.is_demo, resolved.source) == (
        model_copy.resolve(),
        entry.sha256,
        False,
        "registered",
    )
    assert registry.remove("tiny").name == "tiny"
    assert registry.entries() == []
    assert model_copy.exists()  # remove forgets, never deletes


def test_default_name_is_the_file_stem(registry: ModelRegistry, model_copy: Path) -> None:
    assert registry.add(model_copy).name == "tiny-q8"


def test_registry_file_is_plain_json_and_no_temporary_files_remain(
    registry: ModelRegistry, model_copy: Path
) -> None:
    registry.add(model_copy, name="a")
    registry.add(model_copy, name="b")
    registry.remove("a")
    data = json.loads(registry.path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert list(data["models"]) == ["b"]
    assert not [p for p in registry.path.parent.iterdir() if p.name.endswith(".partial")]


def test_an_interrupted_write_keeps_the_previous_registry(registry: ModelRegistry, model_copy: Path) -> None:
    registry.add(model_copy, name="kept")
    before = registry.path.read_bytes()

    def crash_mid_write() -> None:
        with temporary_output(registry.path) as tmp:
            tmp.write_text('{"version": 1, "models": {"half', encoding="utf-8")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        crash_mid_write()
    assert registry.path.read_bytes() == before
    assert [e.name for e in registry.entries()] == ["kept"]
    assert not [p for p in registry.path.parent.iterdir() if p.name.endswith(".partial")]


def test_names_must_be_valid_unreserved_and_unique(
    registry: ModelRegistry, model_copy: Path, tiny_llama_f16: Path
) -> None:
    with pytest.raises(InputError, match="invalid"):
        registry.add(model_copy, name="has space")
    with pytest.raises(InputError, match="reserved"):
        registry.add(model_copy, name="demo-q8_0")
    with pytest.raises(InputError, match="name of a LOGOS checkpoint"):
        registry.add(model_copy, name="LOGOS-8B")
    registry.add(model_copy, name="mine")
    with pytest.raises(InputError, match="already registered to"):
        registry.add(tiny_llama_f16, name="mine")


def test_adding_a_non_gguf_file_is_refused(registry: ModelRegistry, tmp_path: Path) -> None:
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        registry.add(bad)
    assert registry.entries() == []


def test_removing_an_unknown_name_lists_the_registered_ones(
    registry: ModelRegistry, model_copy: Path
) -> None:
    registry.add(model_copy, name="known")
    with pytest.raises(ModelNotFoundError, match=r"'other'.*Registered: known"):
        registry.remove("other")


def test_resolving_a_path_hashes_it_and_reads_the_demo_flag(
    registry: ModelRegistry, model_copy: Path
) -> None:
    resolved = registry.resolve(str(model_copy))
    assert resolved.source == "path"
    assert resolved.name == "tiny-q8"
    assert resolved.sha256 == hashlib.sha256(model_copy.read_bytes()).hexdigest()
    assert not resolved.is_demo


def test_resolving_a_registered_path_gives_its_registered_name(
    registry: ModelRegistry, model_copy: Path
) -> None:
    registry.add(model_copy, name="named")
    assert registry.resolve(str(model_copy)).name == "named"


def test_a_registered_file_that_changed_is_refused(
    registry: ModelRegistry, model_copy: Path, tiny_llama_f16: Path
) -> None:
    registry.add(model_copy, name="drifting")
    shutil.copyfile(tiny_llama_f16, model_copy)
    with pytest.raises(ModelFileError, match=r"changed since it was registered.*logos model add"):
        registry.resolve("drifting")


def test_a_touched_but_identical_file_still_resolves(registry: ModelRegistry, model_copy: Path) -> None:
    registry.add(model_copy, name="touched")
    stat = model_copy.stat()
    os.utime(model_copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert registry.resolve("touched").name == "touched"


def test_a_deleted_registered_file_is_reported_with_the_fix(
    registry: ModelRegistry, model_copy: Path
) -> None:
    registry.add(model_copy, name="gone")
    model_copy.unlink()
    assert {r.name: r.status for r in registry.list_models()}["gone"] == "registered, file missing"
    with pytest.raises(ModelNotFoundError, match="no longer exists"):
        registry.resolve("gone")


def test_known_checkpoint_names_explain_pull_convert_quantize(registry: ModelRegistry) -> None:
    with pytest.raises(
        ModelNotFoundError, match=r"logos model pull LOGOS-Hub/LOGOS-pretrain-1B.*--type Q4_K_M"
    ):
        registry.resolve("LOGOS-pretrain-1B")


def test_unknown_names_list_every_name_that_model_list_shows(
    registry: ModelRegistry, model_copy: Path
) -> None:
    registry.add(model_copy, name="mine")
    with pytest.raises(ModelNotFoundError) as missing:
        registry.resolve("nonexistent-model")
    message = str(missing.value)
    assert "Known names: demo, demo-q8_0, mine;" in message
    assert "LOGOS checkpoints (not converted yet" in message
    listed = [row.name for row in registry.list_models()]
    assert listed[:3] == ["demo", "demo-q8_0", "mine"]
    assert all(name in message for name in listed)


def test_the_demo_model_cannot_be_removed_and_the_message_says_how_to_stop_using_it(
    registry: ModelRegistry, model_copy: Path
) -> None:
    registry.add(model_copy, name="mine")
    before = registry.path.read_bytes()
    for name in ("demo", "demo-q8_0", " demo "):
        with pytest.raises(InputError, match=r"built-in demo model: it ships with logos-tools.*LOGOS_MODEL"):
            registry.remove(name)
    assert registry.path.read_bytes() == before


def test_removing_a_checkpoint_name_says_it_is_not_registered(registry: ModelRegistry) -> None:
    with pytest.raises(InputError, match=r"'LOGOS-8B' is a known LOGOS checkpoint .*nothing to remove"):
        registry.remove("LOGOS-8B")


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
def test_an_empty_or_blank_name_is_refused_instead_of_falling_back_to_the_file_name(
    registry: ModelRegistry, model_copy: Path, name: str
) -> None:
    with pytest.raises(InputError, match=r"is empty\. Pass a name.*leave --name out"):
        registry.add(model_copy, name=name)
    assert registry.entries() == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("models/tiny", "path separator"),
        ("..\\tiny", "path separator"),
        ("demo", "reserved for the built-in demo model"),
        ("Demo", "reserved for the built-in demo model"),
        ("demo-q4_k_m", "reserved for the built-in demo model"),
        ("DEMO-Q8_0", "reserved for the built-in demo model"),
        ("-tiny", "invalid: use 1-64 letters"),
    ],
)
def test_names_that_would_be_ambiguous_are_refused_with_the_reason(
    registry: ModelRegistry, model_copy: Path, name: str, reason: str
) -> None:
    with pytest.raises(InputError, match=reason):
        registry.add(model_copy, name=name)
    assert registry.entries() == []


def test_list_shows_demo_variants_and_checkpoints_with_status(registry: ModelRegistry) -> None:
    rows = {row.name: row for row in registry.list_models()}
    assert rows["demo"].kind == rows["demo-q8_0"].kind == "demo"
    assert rows["demo"].status in {"demo shipped", "demo not built"}
    assert rows["demo"].status == (
        "demo shipped" if load_manifest().demo_path("f16").is_file() else "demo not built"
    )
    assert rows["LOGOS-8B"].status == "not downloaded"
    assert rows["LOGOS-8B"].hf_repo == "LOGOS-Hub/LOGOS-8B"
    (registry.models_dir / "LOGOS-8B").mkdir(parents=True)
    (registry.models_dir / "LOGOS-8B" / "config.json").write_text("{}", encoding="utf-8")
    assert {row.name: row for row in registry.list_models()}["LOGOS-8B"].status == "downloaded (convert it)"


def _manifest_with_demo(tmp_path: Path, f16: Path, q8: Path, *, f16_size: int | None = None) -> Path:
    text = manifest_with_demo_files(
        {"f16": f'path = "{f16}"' + (f"\nsize = {f16_size}" if f16_size else ""), "q8_0": f'path = "{q8}"'}
    )
    path = tmp_path / "manifest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_names_resolve_to_the_manifest_files(
    isolated_home: Path, tmp_path: Path, tiny_llama_f16: Path, tiny_llama_q8: Path
) -> None:
    manifest = load_manifest(_manifest_with_demo(tmp_path, tiny_llama_f16, tiny_llama_q8))
    registry = ModelRegistry(isolated_home / "models.json", manifest=manifest)
    demo = registry.resolve("demo")
    assert (demo.name, demo.path, demo.is_demo, demo.source) == ("demo", tiny_llama_f16, True, "demo")
    assert demo.sha256 == hashlib.sha256(tiny_llama_f16.read_bytes()).hexdigest()
    assert registry.resolve("demo-q8_0").path == tiny_llama_q8
    assert {r.name: r.status for r in registry.list_models()}["demo"] == "demo shipped"


def test_demo_file_with_another_size_than_the_manifest_is_refused(
    isolated_home: Path, tmp_path: Path, tiny_llama_f16: Path, tiny_llama_q8: Path
) -> None:
    manifest = load_manifest(_manifest_with_demo(tmp_path, tiny_llama_f16, tiny_llama_q8, f16_size=12345))
    registry = ModelRegistry(isolated_home / "models.json", manifest=manifest)
    with pytest.raises(ModelFileError, match="the manifest records 12345"):
        registry.resolve("demo")


def test_missing_demo_file_says_how_to_build_it(isolated_home: Path, tmp_path: Path) -> None:
    manifest = load_manifest(
        _manifest_with_demo(tmp_path, tmp_path / "absent-f16.gguf", tmp_path / "absent-q8.gguf")
    )
    registry = ModelRegistry(isolated_home / "models.json", manifest=manifest)
    with pytest.raises(ModelNotFoundError, match=r"does not exist yet\. Build it with the demo recipe"):
        registry.resolve("demo")
    with pytest.raises(ModelNotFoundError, match=r"absent-q8\.gguf"):
        registry.resolve("demo-q8_0")


def test_a_damaged_registry_file_is_reported_with_the_fix(registry: ModelRegistry) -> None:
    registry.path.parent.mkdir(parents=True, exist_ok=True)
    registry.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(
        ModelError, match=r"models\.json is damaged: it is not valid UTF-8 JSON.*move it aside"
    ):
        registry.entries()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "the top level is a JSON list"),
        ('{"version": 1, "models": []}', '"models" is a JSON list'),
        ('{"version": 1, "models": {"m": 5}}', "the entry 'm' is invalid"),
        (
            '{"version": 1, "models": {"m": {"path": 3}}}',
            r"the entry 'm' is invalid \(name: Field required; path",
        ),
    ],
)
def test_a_hand_edited_registry_names_the_file_the_problem_and_the_repair(
    registry: ModelRegistry, text: str, problem: str
) -> None:
    registry.path.parent.mkdir(parents=True, exist_ok=True)
    registry.path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match=rf"{registry.path}.*{problem}.*logos model add PATH --name NAME"):
        registry.list_models()


def test_a_registry_of_a_newer_version_is_not_misread(registry: ModelRegistry) -> None:
    registry.path.parent.mkdir(parents=True, exist_ok=True)
    registry.path.write_text('{"version": 2, "models": {}}', encoding="utf-8")
    with pytest.raises(ModelError, match="version 2; this logos-tools reads version 1"):
        registry.entries()
