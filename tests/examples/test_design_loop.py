"""examples/design_loop.py runs as a test: the same LangGraph agent, driven by the scripted chemist
(a chat model emitting real tool calls chosen from the previous tool results), on the demo model."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from logos_tools.langchain import LogosToolkit
from logos_tools.settings import Settings
from logos_tools.shipped import grammar_dir
from logos_tools.toolkit import Toolkit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "design_loop.py"


@pytest.fixture(scope="module")
def design_loop() -> ModuleType:
    spec = importlib.util.spec_from_file_location("design_loop", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["design_loop"] = module  # pydantic resolves the example's annotations through it
    spec.loader.exec_module(module)
    return module


def best_drug_like(design: dict[str, Any], min_qed: float) -> dict[str, Any]:
    """The molecule the loop should pick, found independently: passes every filter, highest QED."""
    candidates = [
        m
        for m in design["molecules"]
        if m["passes_filters"] and m["properties"]["lipinski_pass"] and not m["properties"]["pains_alerts"]
    ]
    assert candidates, "the design kept no drug-like molecule"
    assert all(m["properties"]["qed"] >= min_qed for m in candidates)
    return max(candidates, key=lambda m: (m["properties"]["qed"], -m["rank"]))


@pytest.mark.asyncio
async def test_the_agent_designs_ligands_keeps_the_drug_like_ones_and_plans_a_route_for_the_best(
    design_loop: ModuleType, demo_path: Path, tmp_path: Path
) -> None:
    # A long budget: a busy CI machine must not turn the design into a partial result plus a job.
    toolkit = Toolkit(Settings(home=tmp_path, allowed_roots=(grammar_dir() / "fixtures",), time_budget_s=600))
    request = design_loop.DesignRequest()
    graph = design_loop.build_design_graph(
        design_loop.ScriptedChemist(request=request),
        LogosToolkit(toolkit, handle_tool_error=True).get_tools(),
    )

    state = await graph.ainvoke({"messages": [HumanMessage(request.prompt())]})

    messages = state["messages"]
    calls = [call for message in messages if isinstance(message, AIMessage) for call in message.tool_calls]
    results = [message for message in messages if isinstance(message, ToolMessage)]
    assert [call["name"] for call in calls][-1] == "retrosynthesis"
    assert {call["name"] for call in calls[:-1]} == {"design_ligands"}
    assert [result.name for result in results] == [call["name"] for call in calls]
    assert all(result.status == "success" and result.artifact is not None for result in results)
    for call in calls[:-1]:
        assert call["args"]["structure_path"] == request.structure
        assert call["args"] | design_loop.DRUG_LIKE == call["args"], "design_ligands ran without the filters"

    design = results[-2].artifact
    assert design["filter_report"]["active"]
    assert design["pocket"]["ligand"].startswith("XK2")
    best = best_drug_like(design, design_loop.DRUG_LIKE["min_qed"])
    assert calls[-1]["args"]["product"] == best["smiles"]
    route = results[-1].artifact
    assert route["product"] == best["smiles"]
    assert toolkit.store.get(route["result_id"]).tool == "retrosynthesis"

    answer = messages[-1]
    assert isinstance(answer, AIMessage)
    assert not answer.tool_calls
    assert best["smiles"] in answer.content
    makes_the_product = [c for c in route["candidates"] if not c["missing_atoms"]]
    if makes_the_product:
        chosen = " + ".join(ref["smiles"] for ref in makes_the_product[0]["reactants"])
        assert f"Route: {chosen} (the best-ranked reactant set that supplies every product atom)." in (
            answer.content
        )
    else:
        assert "supplies every product atom" in answer.content


def test_the_example_runs_as_a_script_with_the_scripted_chemist(demo_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
        cwd=EXAMPLE.parents[1],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[agent -> tools] design_ligands(" in done.stdout
    assert "[retrosynthesis -> agent, success]" in done.stdout
    assert "Best drug-like ligand: " in done.stdout
    assert "DEMO MODEL" in done.stdout


def test_the_scripted_chemist_only_calls_tools_it_was_given(design_loop: ModuleType) -> None:
    chemist = design_loop.ScriptedChemist()
    with pytest.raises(ValueError, match="The tool 'design_ligands' is not bound"):
        chemist.invoke([HumanMessage("design ligands")])


def reactant_set(smiles: list[str], missing: dict[str, int]) -> dict[str, Any]:
    """A retrosynthesis candidate as the tool's artifact has it (the fields the route step reads)."""
    return {
        "reactants": [{"smiles": s} for s in smiles],
        "atoms_accounted": not missing,
        "missing_atoms": missing,
    }


def test_the_route_is_the_best_ranked_reactant_set_that_supplies_every_product_atom(
    design_loop: ModuleType,
) -> None:
    lacking = reactant_set(["CC(C)=O", "Oc1ccccc1"], {"N": 1})
    making = reactant_set(["CC(=O)Cl", "Nc1ccc(O)cc1"], {})
    route = {"candidates": [lacking, making, reactant_set(["CC(=O)O", "Nc1ccc(O)cc1"], {})]}
    assert design_loop.pick_route(route) is making
    assert design_loop.describe_route(route) == (
        "Route: CC(=O)Cl + Nc1ccc(O)cc1 (the best-ranked reactant set that supplies every product atom)."
    )
    only_lacking = {"candidates": [lacking]}
    assert design_loop.pick_route(only_lacking) is None
    assert design_loop.describe_route(only_lacking) == (
        "Route: none of the 1 sampled reactant sets supplies every product atom; "
        "the best-ranked, CC(C)=O + Oc1ccccc1, lacks N 1."
    )
    assert "no valid reactant set" in design_loop.describe_route({"candidates": []})


def test_chat_anthropic_without_a_key_exits_with_one_line_saying_what_to_set() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--chat", "anthropic"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=EXAMPLE.parents[1],
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "--chat anthropic needs ANTHROPIC_API_KEY: export ANTHROPIC_API_KEY=<your key>, "
        "or run without --chat to use the scripted chemist.\n"
    )


def test_chat_anthropic_without_the_package_exits_with_the_install_command(
    design_loop: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-unused")
    monkeypatch.setitem(sys.modules, "langchain_anthropic", None)  # None in sys.modules: import fails
    with pytest.raises(SystemExit) as exited:
        design_loop.chat_model_named("anthropic", design_loop.DesignRequest(), "claude-sonnet-4-5")
    assert str(exited.value.code) == (
        "--chat anthropic needs the langchain-anthropic package: pip install langchain-anthropic."
    )
