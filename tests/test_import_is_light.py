import subprocess
import sys

HEAVY = (
    "rdkit",
    "llama_cpp",
    "torch",
    "mcp",
    "langchain_core",
    "langgraph",
    "Bio",
    "pymatgen",
    "transformers",
)


def test_importing_logos_tools_loads_no_heavy_library() -> None:
    code = (
        "import sys, logos_tools, logos_tools.settings, logos_tools.grammar.profile, logos_tools.grammar.blocks\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
