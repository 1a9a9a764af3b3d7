"""chatstop's HTTP API: a LangGraph Agent Server-compatible subset over Temporal.

`langgraph_sdk.get_client(url=...)` works against it unchanged. Build it with
`api.app.create_app(settings)`; run it with `python -m api`.
"""
