"""Entry point of the MCPB bundle (manifest.json): run logos-mcp over stdio."""

from logos_tools.mcp_server import main

if __name__ == "__main__":
    main()
