"""Measure what the LOGOS MCP server costs an agent's context, and how fast it answers over stdio.

    python mcp_server/measure_tools.py               # tools/list size, per tool and in total
    python mcp_server/measure_tools.py --stdio       # also: seconds from `logos-mcp` start to tools/list
    python mcp_server/measure_tools.py --max-tokens 6000   # exit 1 when over budget (CI gate)

Tokens are estimated as bytes / 4 (no tokenizer is installed; cl100k averages about 4 bytes per token
on JSON schemas). The payload is the tools/list result as JSON, as the server sends it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

BYTES_PER_TOKEN = 4


def _payload(tools: Any) -> str:
    return json.dumps(tools.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))


async def measure_in_process() -> tuple[int, list[tuple[str, int]]]:
    """tools/list bytes in total and per tool, from an in-process server (no model is loaded)."""
    from logos_tools.mcp_server.server import build_server

    async with Client(build_server()) as client:
        listed = await client.list_tools()
    per_tool = [
        (
            tool.name,
            len(
                json.dumps(
                    tool.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":")
                )
            ),
        )
        for tool in listed.tools
    ]
    return len(_payload(listed)), per_tool


async def measure_stdio() -> float:
    """Seconds from launching `logos-mcp` to its tools/list answer."""
    command = shutil.which("logos-mcp") or sys.executable
    args = [] if command != sys.executable else ["-m", "logos_tools.mcp_server.cli"]
    params = StdioServerParameters(command=command, args=args, env=dict(os.environ))
    started = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stdio", action="store_true", help="also time a `logos-mcp` subprocess over stdio")
    parser.add_argument("--max-tokens", type=int, default=None, help="fail when the estimate exceeds this")
    options = parser.parse_args()
    # A scratch LOGOS_HOME: measuring must not touch the user's results store.
    os.environ.setdefault("LOGOS_HOME", tempfile.mkdtemp(prefix="logos-measure-"))

    total, per_tool = anyio.run(measure_in_process)
    for name, size in sorted(per_tool, key=lambda item: -item[1]):
        print(f"{name:24s} {size:7d} bytes  ~{size // BYTES_PER_TOKEN:5d} tokens")
    print(
        f"{'tools/list':24s} {total:7d} bytes  ~{total // BYTES_PER_TOKEN:5d} tokens ({len(per_tool)} tools)"
    )
    if options.stdio:
        print(f"stdio: logos-mcp start to tools/list answer: {anyio.run(measure_stdio):.2f} s")
    if options.max_tokens is not None and total // BYTES_PER_TOKEN > options.max_tokens:
        print(f"over budget: ~{total // BYTES_PER_TOKEN} tokens > {options.max_tokens}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
