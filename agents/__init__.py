"""LangGraph agent definitions and the tools they may call (each tool with its compensator)."""
