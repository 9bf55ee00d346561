import json
import sqlite3
import subprocess
import sys
import threading
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from logos_tools.errors import InputError, LogosError, ResultNotFoundError
from logos_tools.settings import Settings
from logos_tools.store.results import (
    RESULT_ID_PATTERN,
    SCHEMA_VERSION,
    ResultStore,
    StoredResult,
    check_result_id,
)

MODEL = {"name": "demo", "sha256": "ab" * 32, "is_demo": True, "backend": "llamacpp"}


def record(store: ResultStore, tool: str = "generate_molecules", **overrides: Any) -> StoredResult:
    values: dict[str, Any] = {
        "inputs": {"n": 2},
        "model": MODEL,
        "parameters": {"temperature": 1.2, "top_p": 0.85, "seed": 7},
        "outputs": {"molecules": [{"smiles": "CCO"}, {"smiles": "c1ccccc1"}]},
        "timings": {"total_s": 0.25},
    }
    values.update(overrides)
    return store.record(tool, **values)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "results.sqlite3")


def test_recorded_result_reads_back_with_every_field(store: ResultStore) -> None:
    stored = record(store)
    assert RESULT_ID_PATTERN.match(stored.id)
    again = store.get(stored.id)
    assert again == stored
    assert again.tool == "generate_molecules"
    assert again.status == "complete"
    assert again.model == MODEL
    assert again.parameters["seed"] == 7
    assert again.outputs["molecules"][1]["smiles"] == "c1ccccc1"
    assert again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == timezone.utc.utcoffset(None)
    assert json.loads(again.model_dump_json())["id"] == stored.id


def test_every_record_gets_a_new_id(store: ResultStore) -> None:
    ids = {record(store).id for _ in range(20)}
    assert len(ids) == 20


def test_pydantic_models_inside_inputs_and_outputs_are_stored_as_json(store: ResultStore) -> None:
    class Molecule(BaseModel):
        smiles: str
        qed: float

    stored = record(store, outputs={"molecules": [Molecule(smiles="CCO", qed=0.41)], "seen": {"b", "a"}})
    assert store.get(stored.id).outputs == {"molecules": [{"smiles": "CCO", "qed": 0.41}], "seen": ["a", "b"]}


def test_nan_and_infinity_are_stored_as_null_so_the_json_stays_strict(store: ResultStore) -> None:
    stored = record(store, outputs={"perplexity": float("inf"), "score": float("nan"), "ok": 1.5})
    assert store.get(stored.id).outputs == {"perplexity": None, "score": None, "ok": 1.5}


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> ResultStore:
    return ResultStore(tmp_path_factory.mktemp("store") / "results.sqlite3")


@settings(max_examples=40, deadline=None)
@given(outputs=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5))
def test_any_json_outputs_read_back_unchanged(shared_store: ResultStore, outputs: dict[str, Any]) -> None:
    stored = record(shared_store, outputs=outputs)
    assert shared_store.get(stored.id).outputs == outputs


def test_a_value_json_cannot_hold_is_rejected_with_its_location(store: ResultStore) -> None:
    with pytest.raises(InputError, match=r"outputs\['molecules'\]\[0\] is a object") as info:
        record(store, outputs={"molecules": [object()]})
    assert "pydantic model" in str(info.value)


def test_a_result_survives_a_restart_and_reads_back_in_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "home" / "results.sqlite3"
    stored = record(ResultStore(path), outputs={"molecules": [{"smiles": "CC(=O)Oc1ccccc1C(=O)O"}]})
    code = (
        "import sys, json\n"
        "from logos_tools.store.results import ResultStore\n"
        "result = ResultStore(sys.argv[1]).get(sys.argv[2])\n"
        "print(result.model_dump_json())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), stored.id], capture_output=True, text=True, check=True
    )
    assert StoredResult.model_validate_json(out.stdout) == stored


def test_results_written_by_a_new_process_are_seen_here(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    code = (
        "import sys\n"
        "from logos_tools.store.results import ResultStore\n"
        "s = ResultStore(sys.argv[1])\n"
        "print(s.record('score_objects', inputs={}, model={'name': 'demo'}, parameters={}, "
        "outputs={'scores': [1.5]}, timings={}).id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert ResultStore(path).get(out.stdout.strip()).outputs == {"scores": [1.5]}


def test_several_processes_can_write_at_once_without_losing_a_record(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    code = (
        "import sys\n"
        "from logos_tools.store.results import ResultStore\n"
        "s = ResultStore(sys.argv[1])\n"
        "for i in range(15):\n"
        "    r = s.record('score_objects', inputs={'i': i}, model={}, parameters={}, outputs={}, timings={})\n"
        "    s.update(r.id, status='partial', outputs={'i': i})\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    listed = ResultStore(path).list(limit=100)
    assert len(listed) == 45
    assert {item.status for item in listed} == {"partial"}


def test_several_threads_can_share_one_store(store: ResultStore) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                stored = record(store)
                ids.append(store.update(stored.id, status="partial").id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 60
    assert len(store.list(limit=100)) == 60


def test_update_replaces_only_the_given_fields(store: ResultStore) -> None:
    stored = record(store, status="running")
    updated = store.update(
        stored.id, outputs={"molecules": []}, status="partial", error="time budget ran out"
    )
    assert updated.status == "partial"
    assert updated.outputs == {"molecules": []}
    assert updated.error == "time budget ran out"
    assert updated.timings == stored.timings
    assert updated.inputs == stored.inputs
    assert updated.created_at == stored.created_at
    assert updated.updated_at >= stored.updated_at
    assert store.get(stored.id) == updated


def test_an_unknown_status_is_rejected_with_the_allowed_ones(store: ResultStore) -> None:
    with pytest.raises(InputError, match=r"'done' is not a status\. Use one of: complete, partial, running"):
        record(store, status="done")
    stored = record(store)
    with pytest.raises(InputError, match="'ok' is not a status"):
        store.update(stored.id, status="ok")


def test_list_gives_the_newest_first_and_filters_by_tool(store: ResultStore) -> None:
    first = record(store, tool="retrosynthesis")
    second = record(store, tool="design_ligands")
    third = record(store, tool="retrosynthesis")
    assert [item.id for item in store.list()] == [third.id, second.id, first.id]
    assert [item.id for item in store.list(tool="retrosynthesis")] == [third.id, first.id]
    assert [item.id for item in store.list(limit=1)] == [third.id]
    assert store.list()[0].model_name == "demo"
    assert store.list(tool="complete_grammar") == []


def test_list_rejects_a_limit_out_of_range(store: ResultStore) -> None:
    with pytest.raises(InputError, match="limit=0 is out of range"):
        store.list(limit=0)


def test_an_unknown_id_names_the_id_and_how_to_list_results_from_the_cli_and_from_mcp(
    store: ResultStore,
) -> None:
    with pytest.raises(
        ResultNotFoundError,
        match=r"'r-000000000000'.*\(`logos results list`, or the logos://results resource\)",
    ):
        store.get("r-000000000000")


@pytest.mark.parametrize("bad", ["", "abc", "r-12345", "r-ABCDEF123456", "r-00000000000g", "x-000000000000"])
def test_a_malformed_id_is_an_input_error_that_states_the_format(store: ResultStore, bad: str) -> None:
    with pytest.raises(InputError, match=r"is not a result id: ids are 'r-' followed by 12 lowercase hex"):
        store.get(bad)


def test_a_malformed_id_says_where_ids_are_listed_for_every_adapter(store: ResultStore) -> None:
    with pytest.raises(InputError, match=r"`logos results list`, or the logos://results resource"):
        store.get("abc")


def test_an_id_with_surrounding_whitespace_is_accepted() -> None:
    assert check_result_id("  r-0123456789ab\n") == "r-0123456789ab"


def test_delete_removes_the_result_and_a_second_delete_says_it_is_gone(store: ResultStore) -> None:
    stored = record(store)
    store.delete(stored.id)
    with pytest.raises(ResultNotFoundError):
        store.get(stored.id)
    with pytest.raises(ResultNotFoundError):
        store.delete(stored.id)


def test_a_child_result_names_its_parent(store: ResultStore) -> None:
    parent = record(store, tool="design_ligands")
    child = record(store, tool="design_ligands", parent_id=parent.id)
    assert store.get(child.id).parent_id == parent.id
    assert store.list(limit=1)[0].parent_id == parent.id


def test_a_parent_id_that_is_not_stored_is_refused(store: ResultStore) -> None:
    with pytest.raises(ResultNotFoundError, match="r-0123456789ab"):
        record(store, parent_id="r-0123456789ab")
    assert store.list() == []


def test_a_new_store_uses_wal_and_the_current_schema_version(store: ResultStore) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reopening_a_store_keeps_its_results(store: ResultStore) -> None:
    stored = record(store)
    assert ResultStore(store.path).get(stored.id) == stored


def test_a_store_written_by_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    expected = rf"version {SCHEMA_VERSION + 1}, newer than this logos-tools understands \({SCHEMA_VERSION}\)\. Upgrade"
    with pytest.raises(LogosError, match=expected):
        ResultStore(path)


def test_a_file_that_is_not_a_database_is_reported_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    path.write_bytes(b"not a database at all, just text" * 100)
    with pytest.raises(LogosError, match=r"cannot be used: file is not a database\. If the file is damaged"):
        ResultStore(path)


def test_the_default_store_lives_in_logos_home(isolated_home: Path) -> None:
    store = ResultStore.from_settings()
    assert store.path == Settings.from_env().store_path == isolated_home / "results.sqlite3"
    record(store)
    assert (isolated_home / "results.sqlite3").is_file()
