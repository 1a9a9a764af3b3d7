"""What a benchmark knows of a system under test, whichever it is."""

from __future__ import annotations

from dataclasses import dataclass

from bench.scripted import ScriptedModel


@dataclass
class System:
    name: str
    api_url: str
    """Agent Server protocol base URL."""
    model: ScriptedModel
    settings: str
    """One line saying how it was run, printed with its figures."""

    def server_roots(self) -> dict[str, int]:
        """{name: pid} of the server processes whose trees count as the server's CPU."""
        raise NotImplementedError
