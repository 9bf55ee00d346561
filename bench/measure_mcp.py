"""MCP costs on the demo model: tool-call latency through an in-process MCP client against a direct
toolkit call, and cold start of the ``logos-mcp`` server over stdio (to ``tools/list`` and to the first
tool result).

Both latency series call ``retrosynthesis`` with the same arguments and seed on one toolkit and one
loaded model, interleaved (direct, MCP, direct, MCP, ...) so machine load drifts hit both alike.
After the warm-up calls the prompt is cached for both, so they do identical model work.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from workloads import N_CTX, THREADS, ModelSpec, retrosynthesis_product

TOOL = "retrosynthesis"
LATENCY_SAMPLES = 32  # the LOGOS reference count for retrosynthesis
FIRST_CALL_SAMPLES = 8


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(statistics.median(values), 4),
        "p95_s": round(_percentile(values, 0.95), 4),
        "mean_s": round(statistics.fmean(values), 4),
        "calls": len(values),
    }


def tool_call_latency(spec: ModelSpec, repeats: int) -> dict[str, Any]:
    """p50/p95 of a direct toolkit call and of the same call through an in-process MCP client."""
    from mcp import Client

    from logos_tools.mcp_server.server import build_server
    from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions
    from logos_tools.settings import Settings
    from logos_tools.toolkit.toolkit import Toolkit

    arguments: dict[str, Any] = {
        "product": retrosynthesis_product(),
        "num_samples": LATENCY_SAMPLES,
        "seed": 7,
    }
    with tempfile.TemporaryDirectory(prefix="logos-bench-home-") as home:
        os.environ["LOGOS_HOME"] = home
        settings = Settings.from_env()
        backend = LlamaCppBackend(
            spec.gguf, name=spec.name, is_demo=True, options=LlamaCppOptions(n_ctx=N_CTX, n_threads=THREADS)
        )
        toolkit = Toolkit(settings, backend=backend)
        server = build_server(toolkit)
        direct: list[float] = []
        through_mcp: list[float] = []

        async def measure() -> None:
            async with Client(server) as client:
                await client.list_tools()
                toolkit.retrosynthesis(**arguments)  # warm-up: model load, prompt cache, RDKit
                first = await client.call_tool(TOOL, arguments)
                if first.is_error:
                    raise RuntimeError(f"the MCP call failed: {first.content}")
                for _ in range(repeats):
                    started = time.perf_counter()
                    toolkit.retrosynthesis(**arguments)
                    direct.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    result = await client.call_tool(TOOL, arguments)
                    through_mcp.append(time.perf_counter() - started)
                    if result.is_error:
                        raise RuntimeError(f"the MCP call failed: {result.content}")

        anyio.run(measure)
        backend.close()
    direct_summary, mcp_summary = _summary(direct), _summary(through_mcp)
    return {
        "tool": TOOL,
        "num_samples": LATENCY_SAMPLES,
        "direct": direct_summary,
        "mcp": mcp_summary,
        "overhead_p50_s": round(mcp_summary["p50_s"] - direct_summary["p50_s"], 4),
        "overhead_p50_ratio": round(mcp_summary["p50_s"] / direct_summary["p50_s"] - 1, 4),
    }


def _server_command() -> list[str]:
    script = Path(sys.executable).with_name("logos-mcp")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from logos_tools.mcp_server import main; main()"]


def cold_start(spec: ModelSpec, repeats: int) -> dict[str, Any]:
    """Seconds from spawning ``logos-mcp`` to the ``tools/list`` answer and to the first tool result."""
    from mcp import Client, StdioServerParameters

    command = _server_command()
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="logos-bench-home-") as home:
            params = StdioServerParameters(
                command=command[0],
                args=[*command[1:], "--model", str(spec.gguf), "--log-level", "WARNING"],
                env={"LOGOS_HOME": home, "LOGOS_THREADS": str(THREADS), "LOGOS_N_CTX": str(N_CTX)},
            )
            times: dict[str, float] = {}

            async def measure(
                params: StdioServerParameters = params, times: dict[str, float] = times
            ) -> None:
                started = time.perf_counter()
                async with Client(params) as client:
                    times["initialize_s"] = time.perf_counter() - started
                    listed = await client.list_tools()
                    times["tools_list_s"] = time.perf_counter() - started
                    times["tools"] = float(len(listed.tools))
                    result = await client.call_tool(
                        TOOL,
                        {"product": retrosynthesis_product(), "num_samples": FIRST_CALL_SAMPLES, "seed": 7},
                    )
                    times["first_result_s"] = time.perf_counter() - started
                    if result.is_error:
                        raise RuntimeError(f"the first MCP call failed: {result.content}")

            anyio.run(measure)
            runs.append(times)
    return {
        "command": " ".join(Path(part).name if i == 0 else part for i, part in enumerate(command)),
        "first_call": f"{TOOL}, num_samples={FIRST_CALL_SAMPLES}",
        "tools": int(runs[0]["tools"]),
        "runs": len(runs),
        "tools_list_s": round(statistics.median(r["tools_list_s"] for r in runs), 3),
        "first_result_s": round(statistics.median(r["first_result_s"] for r in runs), 3),
        "initialize_s": round(statistics.median(r["initialize_s"] for r in runs), 3),
        "all_tools_list_s": [round(r["tools_list_s"], 3) for r in runs],
    }
