"""The Stop fast path's receiving end: one wildcard subscription per process.

Listeners are registered locally (one per running model or tool call), so creating one costs
a dict insert and no round trip, and a notice published after ``on_stop`` returned reaches
it as long as the connection is up. Every process sees every stop notice; stops are human
clicks, so that is a handful per second at most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.msg import Msg

from broker.subjects import Subjects

logger = logging.getLogger("chatstop.broker")

StopCallback = Callable[[bytes], None]


class StopListener:
    """Calls ``callback(payload)`` in the event loop for each stop notice of its run."""

    __slots__ = ("_board", "_callback", "run_id")

    def __init__(self, board: StopBoard | None, run_id: str, callback: StopCallback) -> None:
        self._board = board
        self._callback = callback
        self.run_id = run_id

    @property
    def active(self) -> bool:
        return self._board is not None

    async def close(self) -> None:
        if self._board is not None:
            self._board.remove(self)
            self._board = None

    def _notify(self, payload: bytes) -> None:
        try:
            self._callback(payload)
        except Exception:  # one broken listener must not hide the stop from the others
            logger.exception("stop listener for run %s failed", self.run_id)


class StopBoard:
    """Run id -> the listeners of this process, fed by the wildcard subscription."""

    def __init__(self, subjects: Subjects) -> None:
        self._subjects = subjects
        self._listeners: dict[str, list[StopListener]] = {}

    def add(self, run_id: str, callback: StopCallback) -> StopListener:
        listener = StopListener(self, run_id, callback)
        self._listeners.setdefault(run_id, []).append(listener)
        return listener

    def remove(self, listener: StopListener) -> None:
        listeners = self._listeners.get(listener.run_id)
        if listeners and listener in listeners:
            listeners.remove(listener)
            if not listeners:
                del self._listeners[listener.run_id]

    def __len__(self) -> int:
        return sum(len(listeners) for listeners in self._listeners.values())

    async def on_message(self, msg: Msg) -> None:
        run_id = self._subjects.run_id_of_stop(msg.subject)
        for listener in list(self._listeners.get(run_id, ())):
            listener._notify(msg.data)
