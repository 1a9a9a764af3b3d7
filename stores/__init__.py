"""Durable stores that the API and the worker both use: thread state (a LangGraph
checkpointer) and the thread and run records (SQLite in development, Postgres in production).

They live in their own package because neither side owns them: activities write thread state
and run outcomes, the API reads them and writes the records it creates.
"""
