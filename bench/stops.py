"""One stop, measured: what the client and the scripted model saw of it.

Shared by the stop benchmark and the capacity search. A stop is sent with
`POST /threads/{t}/runs/{r}/cancel?action=interrupt` on a fresh connection once the client
has received a random number of tokens; the answer is long enough that the model is still
writing when the stop is sent. If the stop never reaches the model, the model writes the
whole answer: that is a stop that was lost.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from dataclasses import dataclass

from bench.client import AgentClient, Turn
from bench.scripted import LogEntry
from bench.systems import System

STOP_RANGE = (3, 150)
"""A stop lands at a random token of this range, as a user's click would."""
ANSWER_TOKENS = 1500
"""Length of a stopped answer (30 s at 20 ms/token): it must outlast the slowest stop by far,
or a slow stop would pass for a lost one."""
PATIENCE_SECONDS = 10.0
"""How long a stop's slot waits for the model to see it before starting its next run; calls
still open are settled at the end of the level, so a lost stop (whose model goes on writing
for the rest of the answer) does not hold its slot all that time."""
SLACK_SECONDS = 10.0
"""Beyond the answer's own length: how long to wait for a stream to end."""


@dataclass(frozen=True)
class Stop:
    outcome: str
    """closed (the model saw its stream closed), ran to the end (the stop never reached
    it: the model wrote its whole answer), still open (neither, when last looked at),
    finished first (the answer was over before the stop was sent), not sent (the stream
    ended before the stop's token)."""
    to_disconnect: float
    """ms from sending the stop to the model seeing the client hang up; inf if it never did."""
    to_terminal: float
    """ms from sending the stop to the terminal SSE event (or the stream closing)."""
    status: int | None = None
    """The cancel request's HTTP status."""


def prompt(tokens: int, pace: float, marker: str) -> str:
    return f"[tokens={tokens}][pace={pace:g}] {marker}"


def answer_seconds(tokens: int, pace: float) -> float:
    return tokens * pace / 1000


@dataclass
class Stopped:
    """A stopped run, and the model's call once it has ended (None while still open)."""

    turn: Turn
    marker: str
    answer_seconds: float
    call: LogEntry | None = None


async def stop_one(system: System, client: AgentClient, tokens: int, pace: float) -> Stopped:
    """Stream an answer of `tokens`, stop it at a random token, and wait up to PATIENCE for
    the model to see its stream closed."""
    marker = uuid.uuid4().hex
    turn = Turn(await client.create_thread())
    seconds = answer_seconds(tokens, pace)
    stop_at = random.randint(*STOP_RANGE)
    await client.stream(
        turn, prompt(tokens, pace, marker), stop_at=stop_at, give_up_after=seconds + SLACK_SECONDS
    )
    call = await system.model.closed_call(marker, within=PATIENCE_SECONDS)
    return Stopped(turn, marker, seconds, call)


async def settle(system: System, stopped: list[Stopped], *, wait: bool = True) -> list[Stop]:
    """Judge every stop. With `wait`, calls still open first run until they end, so a slow
    stop is told from a lost one (whose model writes its whole answer); without, a call
    still open after PATIENCE counts as never closed."""
    still_open = [s for s in stopped if s.call is None]
    if wait and still_open:
        calls = await asyncio.gather(
            *(system.model.closed_call(s.marker, within=s.answer_seconds) for s in still_open)
        )
        for s, call in zip(still_open, calls, strict=True):
            s.call = call
    return [judge(s.turn, s.call) for s in stopped]


def judge(turn: Turn, call: LogEntry | None) -> Stop:
    """The outcome of a stop from the client's turn and the model's log entry of the call."""
    sent = turn.stop_sent_at
    if sent is None:
        why = "timed out" if turn.timed_out else "error" if turn.errors else "ended early"
        return Stop(f"not sent ({why})", math.inf, math.inf)
    to_terminal = (turn.terminal_at - sent) * 1000
    if call is None:
        return Stop("still open", math.inf, to_terminal, turn.stop_status)
    to_end = (call["end"] - sent) * 1000
    if call["disconnected"]:
        return Stop("closed", to_end, to_terminal, turn.stop_status)
    outcome = "finished first" if to_end <= 0 else "ran to the end"
    return Stop(outcome, math.inf, to_terminal, turn.stop_status)
