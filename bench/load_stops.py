"""The load's stops, timed three ways: the cancel request's answer, the model seeing its
stream closed, and the stream's `end` event; and the tokens a stop cut on their way."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass

from bench.harness import say
from bench.load_checks import Evidence, answer_call
from bench.load_workload import LoadRun
from bench.scripted import LogEntry
from bench.stats import Summary, ms, table
from bench.stops import Stop, judge

SLOWER_THAN_THE_ANSWER = "answer ended first"
"""The model wrote its whole answer after the stop was sent. bench.stops calls this "ran to
the end" (a lost stop, given its 1,500-token answers); a load answer is short, so a slow
stop near its end may simply come after it. Either way its latency counts as infinite."""


@dataclass(frozen=True)
class TimedStop:
    run: LoadRun
    stop: Stop
    to_answer: float
    """ms from sending the stop to its HTTP answer."""
    to_closed: float
    """ms from sending the stop to Temporal closing the turn workflow."""

    @property
    def timed(self) -> bool:
        """Accepted, and sent while the model still wrote: its latencies count."""
        return self.stop.status == 202 and self.stop.outcome != "finished first"


def judged(runs: list[LoadRun], ev: Evidence) -> list[TimedStop]:
    found = []
    for run in runs:
        if run.action is None:
            continue
        call = answer_call(ev.calls.get(run.marker, []))
        stop = judge(run.turn, call if call and call["end"] else None)
        if stop.outcome == "ran to the end":
            stop = dataclasses.replace(stop, outcome=SLOWER_THAN_THE_ANSWER)
        sent = run.turn.stop_sent_at or math.nan
        answered = run.turn.stop_answered_at or math.inf
        closed = ev.closed_at.get(run.marker, math.inf)
        found.append(TimedStop(run, stop, (answered - sent) * 1000, (closed - sent) * 1000))
    return found


def print_stops(runs: list[LoadRun], ev: Evidence, target: float) -> None:
    stops = judged(runs, ev)
    say(
        "stops (POST .../cancel through the other replica than the one streaming, on a fresh "
        "connection); p50/p95 of the accepted ones: answered = the cancel request's response; "
        'disconnect = the scripted model sees its stream closed ("answer ended first": the '
        "model wrote its whole answer after the stop was sent, counted as infinitely late); "
        "turn closed = Temporal's close time of the turn workflow; terminal = the stream's "
        "`end` event",
        blank=True,
    )
    rows = [_row("all", stops)]
    rows += [_row(a, [s for s in stops if s.run.action == a]) for a in ("interrupt", "rollback")]
    columns = ["action", "stops", "answered p50", "p95", "disconnect p50", "p95"]
    columns += ["turn closed p50", "p95", "terminal p50", "p95", "outcomes"]
    print(table(columns, rows))
    timed = [s for s in stops if s.timed]
    for what, values in (
        ("disconnect", [s.stop.to_disconnect for s in timed]),
        ("terminal", [s.stop.to_terminal for s in timed]),
    ):
        p95 = Summary.of(values).p95
        verdict = "met" if p95 <= target else "MISSED"
        say(f"target: stop -> {what} p95 <= {target:g} ms: {ms(p95)} ({verdict})")
    _cut(stops, ev.calls)


def _row(label: str, stops: list[TimedStop]) -> list[str]:
    timed = [s for s in stops if s.timed]
    answered = Summary.of([s.to_answer for s in timed])
    closed = Summary.of([s.stop.to_disconnect for s in timed])
    turn_closed = Summary.of([s.to_closed for s in timed])
    terminal = Summary.of([s.stop.to_terminal for s in timed])
    text = ", ".join(f"{k} {v}" for k, v in Counter(s.stop.outcome for s in stops).items())
    refused = Counter(str(s.stop.status) for s in stops if s.stop.status != 202)
    if refused:
        text += "; cancel HTTP " + ", ".join(f"{k}: {v}" for k, v in refused.items())
    return [
        label, str(len(stops)), ms(answered.p50), ms(answered.p95), ms(closed.p50),
        ms(closed.p95), ms(turn_closed.p50), ms(turn_closed.p95), ms(terminal.p50),
        ms(terminal.p95), text,
    ]  # fmt: skip


def _cut(stops: list[TimedStop], calls: dict[str, list[LogEntry]]) -> None:
    """Tokens the model wrote that no client saw: still on their way when the stop came."""
    cut, early = [], 0
    for s in stops:
        call = answer_call(calls.get(s.run.marker, []))
        if call is None or s.run.turn.outcome == "completed":
            continue
        shown = len(s.run.turn.texts)
        cut.append(call["tokens"] - shown)
        sent = s.run.turn.stop_sent_at or 0.0
        early += sum(1 for at in call["token_times"][shown:] if at < sent)
    if cut:
        say(
            f"cut by the stop: in {sum(1 for c in cut if c)} of {len(cut)} stopped answers the "
            f"model wrote tokens nobody saw ({sum(cut)} in all, at most {max(cut)} in one); "
            f"{early} of them were written before the stop was even sent (delivery lag)"
        )
