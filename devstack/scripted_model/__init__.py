"""Scripted model: a deterministic, OpenAI-compatible ``/v1/chat/completions`` test double.

This is a development and test double only. Agents talk to it exactly as they talk to OpenAI,
so it is replaced by the real service simply by setting ``OPENAI_API_KEY`` /
``OPENAI_BASE_URL``; nothing in the production code path knows it exists.

Behaviour is driven by directives in the last user message:

* ``[tokens=N]`` answer length in streamed content chunks (default 60)
* ``[pace=MS]`` delay between tokens in milliseconds (default 20; none before the first)
* ``[tool=NAME {json args}]`` (repeatable) request these tools as parallel tool calls, until
  tool results follow the user message
* ``[fail=STATUS]`` answer with that HTTP error status and an OpenAI error body

``GET /_scripted/log`` (optionally ``?contains=MARKER``) shows every request, how many tokens
were sent and whether/when the client disconnected; ``DELETE /_scripted/log`` clears it.

Run it with ``python -m devstack.scripted_model --port 8001`` or, inside a test's event loop,
``await serve_in_background()`` / ``async with scripted_model() as model:``.
"""

from devstack.scripted_model.directives import Directives, ToolDirective, parse_directives
from devstack.scripted_model.runner import RunningScriptedModel, scripted_model, serve_in_background
from devstack.scripted_model.server import create_app

__all__ = [
    "Directives",
    "RunningScriptedModel",
    "ToolDirective",
    "create_app",
    "parse_directives",
    "scripted_model",
    "serve_in_background",
]
