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
    if route["candidates"]:
        top = " + ".join(ref["smiles"] for ref in route["candidates"][0]["reactants"])
        assert f"Top retrosynthesis: {top}." in answer.content


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
