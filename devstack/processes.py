"""Child processes of the dev stack: one process group each, output prefixed with the name.

Every child runs in its own session (``start_new_session=True``) for two reasons: Ctrl-C in
the terminal reaches only the launcher, so the launcher alone decides the shutdown order; and
signalling the whole group also reaches grandchildren (reloaders, helper processes), so no
orphan outlives ``make dev``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# A child printing one very long line (a JSON log record, a traceback) must not break the pump.
_LINE_LIMIT = 1 << 20
# How long an exit report waits for the child's last lines before it is printed anyway: a
# grandchild can hold the pipe open long after the child itself has gone.
_DRAIN_SECONDS = 1.0


@dataclass(frozen=True)
class ChildSpec:
    """What to run and how to call it in the prefixed output."""

    name: str
    argv: list[str]
    mute_when_stopping: bool = False
    """Drop the output once asked to stop: the Temporal dev server logs a burst of alarming
    but harmless errors while it shuts down."""
    env: Mapping[str, str] = field(default_factory=dict)
    """This child's own settings on top of the stack's environment (an API replica's port)."""


class Child:
    """A running child process; ``exited`` completes with its exit code."""

    def __init__(self, spec: ChildSpec, proc: asyncio.subprocess.Process) -> None:
        self.spec = spec
        self._proc = proc
        self._muted = False
        self._pump = asyncio.create_task(self._forward_output(), name=f"pump-{spec.name}")
        self.exited: asyncio.Task[int] = asyncio.create_task(self._wait(), name=f"wait-{spec.name}")

    @classmethod
    async def start(cls, spec: ChildSpec, *, cwd: Path, env: Mapping[str, str]) -> Child:
        proc = await asyncio.create_subprocess_exec(
            *spec.argv,
            cwd=cwd,
            env={**env, **spec.env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            limit=_LINE_LIMIT,
        )
        logger.info("started %s (pid %d)", spec.name, proc.pid)
        return cls(spec, proc)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def stop(self, grace_seconds: float) -> None:
        """SIGTERM the group, wait up to ``grace_seconds``, then SIGKILL whatever is left."""
        self._muted = self.spec.mute_when_stopping
        if not self.exited.done():
            logger.info("stopping %s", self.name)
            self._signal_group(signal.SIGTERM)
            done, _ = await asyncio.wait({self.exited}, timeout=grace_seconds)
            if not done:
                logger.warning(
                    "%s ignored SIGTERM for %.0f s; killing it", self.name, grace_seconds
                )
        # Also when the leader exited cleanly: a grandchild may still hold the group.
        self.kill()
        await self.exited
        self._pump.cancel()

    def kill(self) -> None:
        """SIGKILL the whole process group (no-op if it is already gone)."""
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: signal.Signals) -> None:
        # The group id is the child's pid (it is the session leader); once every member is
        # gone the group no longer exists and killpg reports that, which is fine.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    async def _wait(self) -> int:
        code = await self._proc.wait()
        await asyncio.wait({self._pump}, timeout=_DRAIN_SECONDS)
        return code

    async def _forward_output(self) -> None:
        assert self._proc.stdout is not None
        prefix = f"[{self.name}] ".encode()
        out = sys.stdout.buffer
        async for line in _lines(self._proc.stdout):
            if self._muted:
                continue
            # Raw bytes, not logging: the child already formatted its own log records.
            out.write(prefix + line.rstrip(b"\r\n") + b"\n")
            out.flush()


def describe_exit(code: int) -> str:
    """asyncio reports death by signal as a negative code; say which signal."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Lines of ``stream`` until EOF; over-long lines arrive in pieces instead of failing."""
    while True:
        try:
            yield await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                yield exc.partial
            return
        except asyncio.LimitOverrunError as exc:
            yield await stream.read(exc.consumed)
