"""logos-tools: LOGOS, the scientific generative language model, as typed tools for chat agents.

Importing this package is cheap: RDKit, llama.cpp, torch, MCP and LangChain load only when the
part that needs them is used.
"""

from logos_tools.errors import LogosError

__version__ = "0.1.0"
__all__ = ["LogosError", "__version__"]
