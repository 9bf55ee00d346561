"""A LangGraph agent that runs a small drug-design loop with the LOGOS tools.

    1. design ligands for a protein pocket        (tool: design_ligands, with drug-likeness filters)
    2. keep the drug-like ones, pick the best      (Lipinski, QED, no PAINS alert; highest QED first)
    3. plan a one-step retrosynthesis for the best (tool: retrosynthesis), and pick the best-ranked
       reactant set whose reactants supply every heavy atom of the product

Run it from the repository root:

    python examples/design_loop.py                  # scripted chemist: no API key, built-in demo model

The default chat model is ``ScriptedChemist``, a deterministic stand-in that emits real tool calls and
reads the previous tool results (their artifacts) to choose the next call, so the loop runs offline.
Any chat model with tool calling drives the same graph; for Claude:

    pip install langchain-anthropic
    export ANTHROPIC_API_KEY=...
    python examples/design_loop.py --chat anthropic [--anthropic-model claude-sonnet-4-5]

or, in your own code, ``build_design_graph(ChatAnthropic(model=...), LogosToolkit(handle_tool_error=True).get_tools())``
(``langchain.agents.create_agent(model, tools, system_prompt=SYSTEM_PROMPT)`` builds an equivalent
agent if you have the ``langchain`` package). Set ``LOGOS_MODEL`` to a converted LOGOS GGUF for real
chemistry: the demo model only shows that the loop works.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from logos_tools.langchain import LogosToolkit
from logos_tools.settings import Settings
from logos_tools.shipped import grammar_dir

HIV_PROTEASE = grammar_dir() / "fixtures" / "structures" / "1hvr.pdb"
DRUG_LIKE: dict[str, Any] = {"lipinski": True, "min_qed": 0.3, "no_pains": True}  # design_ligands filters
SYSTEM_PROMPT = (
    "You are a medicinal chemist with LOGOS tools. For a protein pocket: (1) call design_ligands for the "
    "pocket with the filters the user asks for; (2) keep only the molecules that pass the filters and "
    "pick the best one (highest QED; lowest rank breaks ties); if none passes, call design_ligands again "
    "with a different seed and more samples; (3) call retrosynthesis on the best molecule's SMILES; "
    "(4) answer with the chosen SMILES, its QED, and the first reactant set whose atoms are accounted "
    "for (its reactants supply every heavy atom of the product); if none is, say so."
)


@dataclasses.dataclass(frozen=True)
class DesignRequest:
    """The pocket to design for and how hard to try."""

    structure: str = str(HIV_PROTEASE)
    ligand: str = "XK2"
    chain: str = "A"
    num_molecules: int = 4
    max_samples: int = 32
    seed: int = 7
    attempts: int = 3
    route_samples: int = 8

    def prompt(self) -> str:
        """What the user asks, in words a chat model reads."""
        return (
            f"Propose ligands for the pocket of ligand {self.ligand} in chain {self.chain} of {self.structure}. "
            f"Keep only drug-like ones (filters {json.dumps(DRUG_LIKE)}), and plan a one-step "
            "retrosynthesis for the best."
        )


def keep_drug_like(design: dict[str, Any]) -> list[dict[str, Any]]:
    """The filter step: molecules of a design_ligands result that are drug-like, best first.

    Drug-like: passes the requested filters, the rule of five, and has no PAINS alert. Best: highest
    QED, then the model's own rank.
    """
    kept = [
        molecule
        for molecule in design["molecules"]
        if molecule["passes_filters"]
        and molecule["properties"]["lipinski_pass"]
        and not molecule["properties"]["pains_alerts"]
        and molecule["properties"]["qed"] >= DRUG_LIKE["min_qed"]
    ]
    return sorted(kept, key=lambda molecule: (-molecule["properties"]["qed"], molecule["rank"]))


def pick_route(route: dict[str, Any]) -> dict[str, Any] | None:
    """The route step: the best-ranked reactant set that can make the product, if any.

    A set whose reactants lack heavy atoms the product has (``atoms_accounted`` false) cannot make
    it, however well it ranks (candidates come most often sampled first).
    """
    return next((candidate for candidate in route["candidates"] if candidate["atoms_accounted"]), None)


def describe_route(route: dict[str, Any]) -> str:
    """The route sentence of the final answer."""
    chosen = pick_route(route)
    if chosen is not None:
        reactants = " + ".join(ref["smiles"] for ref in chosen["reactants"])
        return f"Route: {reactants} (the best-ranked reactant set that supplies every product atom)."
    if not route["candidates"]:
        return "Route: no valid reactant set was sampled; try more samples."
    top = route["candidates"][0]
    missing = ", ".join(f"{element} {count}" for element, count in top["missing_atoms"].items())
    reactants = " + ".join(ref["smiles"] for ref in top["reactants"])
    return (
        f"Route: none of the {len(route['candidates'])} sampled reactant sets supplies every product "
        f"atom; the best-ranked, {reactants}, lacks {missing}."
    )


class ScriptedChemist(BaseChatModel):
    """A deterministic chat model that drives the design loop with real tool calls.

    Each turn reads the conversation: no tool result yet -> design ligands; a design result ->
    keep the drug-like molecules and ask for a retrosynthesis of the best (or design again with the
    next seed if none is drug-like); a retrosynthesis result -> the final answer, with the route
    that ``pick_route`` chooses.
    """

    request: DesignRequest = DesignRequest()
    bound_tools: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "scripted-chemist"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        names = tuple(tool.name for tool in tools if isinstance(tool, BaseTool))
        return self.model_copy(update={"bound_tools": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        results = [message for message in messages if isinstance(message, ToolMessage)]
        designs = [message for message in results if message.name == "design_ligands"]
        if not results:
            return self._call("design_ligands", self._design_args(attempt=0), turn=len(messages))
        last = results[-1]
        if last.status == "error":
            return AIMessage(content=f"The {last.name} call failed, so I stop here: {last.content}")
        if last.name == "design_ligands":
            kept = keep_drug_like(last.artifact)
            if kept:
                best = kept[0]
                args = {
                    "product": best["smiles"],
                    "num_samples": self.request.route_samples,
                    "seed": self.request.seed,
                }
                return self._call("retrosynthesis", args, turn=len(messages))
            if len(designs) < self.request.attempts:
                return self._call(
                    "design_ligands", self._design_args(attempt=len(designs)), turn=len(messages)
                )
            return AIMessage(
                content=f"No drug-like ligand in {len(designs)} design rounds; try more samples."
            )
        design = designs[-1].artifact
        best = keep_drug_like(design)[0]
        return AIMessage(
            content=(
                f"Best drug-like ligand: {best['smiles']} (QED {best['properties']['qed']:.2f}, "
                f"MW {best['properties']['mw']:.0f}), chosen from {len(keep_drug_like(design))} drug-like "
                f"designs for the {self.request.ligand} pocket. {describe_route(last.artifact)}"
            )
        )

    def _design_args(self, attempt: int) -> dict[str, Any]:
        request = self.request
        return {
            "structure_path": request.structure,
            "ligand": request.ligand,
            "chain": request.chain,
            "num_molecules": request.num_molecules,
            "max_samples": request.max_samples * (attempt + 1),
            **DRUG_LIKE,
            "seed": request.seed + attempt,
        }

    def _call(self, name: str, args: dict[str, Any], *, turn: int) -> AIMessage:
        if name not in self.bound_tools:
            raise ValueError(f"The tool {name!r} is not bound; bind the LOGOS tools with bind_tools first.")
        return AIMessage(
            content="", tool_calls=[ToolCall(name=name, args=args, id=f"call_{turn}", type="tool_call")]
        )


def build_design_graph(chat_model: BaseChatModel, tools: Sequence[BaseTool]) -> CompiledStateGraph[Any]:
    """The agent: the chat model calls tools until it answers without a tool call.

    Tool errors reach the model as ``ToolMessage(status="error")`` (the LOGOS tools handle their own
    errors), so it can fix its arguments and call again.
    """
    model = chat_model.bind_tools(list(tools))

    def chemist(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])]}

    async def achemist(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await model.ainvoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])]}

    graph = StateGraph(MessagesState)
    graph.add_node("chemist", RunnableLambda(chemist, afunc=achemist))
    graph.add_node("tools", ToolNode(list(tools)))
    graph.add_edge(START, "chemist")
    graph.add_conditional_edges("chemist", tools_condition, ["tools", END])
    graph.add_edge("tools", "chemist")
    return graph.compile()


def chat_model_named(name: str, request: DesignRequest, anthropic_model: str) -> BaseChatModel:
    """The chat model to drive the loop: the scripted chemist, or Claude through langchain-anthropic.

    Raises:
        SystemExit: Claude is asked for without ANTHROPIC_API_KEY or without langchain-anthropic
            (one line saying what to do, instead of a traceback at the first call).
    """
    if name == "scripted":
        return ScriptedChemist(request=request)
    if not os.environ.get("ANTHROPIC_API_KEY"):
        raise SystemExit(
            "--chat anthropic needs ANTHROPIC_API_KEY: export ANTHROPIC_API_KEY=<your key>, "
            "or run without --chat to use the scripted chemist."
        )
    try:
        from langchain_anthropic import ChatAnthropic  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise SystemExit(
            "--chat anthropic needs the langchain-anthropic package: pip install langchain-anthropic."
        ) from None
    model: BaseChatModel = ChatAnthropic(model=anthropic_model, temperature=0)
    return model


def main(argv: Sequence[str] | None = None) -> int:
    """Run the loop once and print the conversation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chat", choices=("scripted", "anthropic"), default="scripted")
    parser.add_argument("--anthropic-model", default="claude-sonnet-4-5")
    parser.add_argument("--structure", default=str(HIV_PROTEASE), help="PDB or mmCIF file of the protein.")
    parser.add_argument("--ligand", default="XK2", help="Ligand residue name that marks the pocket.")
    parser.add_argument("--chain", default="A")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    request = DesignRequest(
        structure=str(Path(args.structure).resolve()), ligand=args.ligand, chain=args.chain, seed=args.seed
    )
    chat_model = chat_model_named(args.chat, request, args.anthropic_model)  # fails early if unusable
    settings = Settings.from_env()
    if not settings.allowed_roots:  # let the tools read the structure the user named
        settings = dataclasses.replace(settings, allowed_roots=(Path(request.structure).parent,))
    # Errors come back as messages the chat model can read and fix, instead of ending the run.
    tools = LogosToolkit(settings=settings, handle_tool_error=True).get_tools()
    graph = build_design_graph(chat_model, tools)
    state = graph.invoke({"messages": [HumanMessage(request.prompt())]})
    for message in state["messages"]:
        print(describe_message(message))
    return 0


def describe_message(message: BaseMessage) -> str:
    """One readable block per message of the conversation."""
    if isinstance(message, AIMessage) and message.tool_calls:
        calls = "; ".join(f"{call['name']}({json.dumps(call['args'])})" for call in message.tool_calls)
        return f"[agent -> tools] {calls}"
    if isinstance(message, ToolMessage):
        return f"[{message.name} -> agent, {message.status}]\n{message.content}"
    return f"[{message.type}] {message.content}"


if __name__ == "__main__":
    raise SystemExit(main())
