"""A turn that has started goes ahead of runs still waiting to be admitted: with the worker
behind, a burst of new runs reaches its first tokens turn by turn, not all at the end.

The dev server runs with the priority matcher (`dev_server.dynamic_config`), and turns are
started at priority 1 (`workflows.thread_io.TURN_PRIORITY`) while the threads' own tasks,
the admissions among them, keep the default 3. Without either, tasks leave the queue in
the order they came and every admission goes before any turn.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.errors import TemporalUnavailableError
from api.run_input import new_run_record
from api.runs_service import run_request
from api.schemas import RunCreate
from api.temporal_gateway import TemporalGateway
from core.contracts import thread_workflow_id, turn_workflow_id
from core.settings import Settings
from core.thread_contracts import RunAdmission, RunRequest
from devstack.scripted_model.runner import RunningScriptedModel
from tests.fixtures.eventually import eventually
from tests.support import running_rig

pytestmark = pytest.mark.integration

RUNS = 12
ADMISSION_ATTEMPTS = 8
"""Each waits up to the gateway's 5 s deadline while no worker polls."""


STATS_NOT_READY = {
    RPCStatusCode.CANCELLED,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.UNAVAILABLE,
}
"""How a busy dev server answers a statistics request it gave up on (seen in CI as
`operation was canceled`): the backlog is not known yet, so it is asked again."""


async def _workflow_backlog(client: Client, task_queue: str) -> int:
    try:
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                report_stats=True,
            )
        )
    except RPCError as err:
        if err.status in STATS_NOT_READY:
            return 0
        raise
    return described.stats.approximate_backlog_count


async def _first_task_started(client: Client, workflow_id: str) -> float:
    """When the worker took the workflow's first workflow task (server clock, seconds)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    event = next(e for e in history.events if e.event_type == started)
    return event.event_time.ToMicroseconds() / 1e6


async def test_a_started_turn_goes_ahead_of_waiting_admissions(
    dev_server: WorkflowEnvironment,
    settings: Settings,
    scripted_model: RunningScriptedModel,
    marker: str,
) -> None:
    client = dev_server.client
    # One workflow task at a time, so the worker is behind and the queue decides the order.
    worker = settings.worker.model_copy(update={"max_concurrent_workflow_tasks": 1})
    settings = settings.model_copy(update={"worker": worker})
    gateway = TemporalGateway(settings, client)
    requests = []
    for i in range(RUNS):
        body = RunCreate(assistant_id="agent", input=_user(f"[tokens=2] burst {i} {marker}"))
        thread = f"prio-{uuid.uuid4().hex[:10]}"
        run = new_run_record(thread, body, "tester", streaming=False, limits=settings.limits)
        requests.append(run_request(settings, run, "agents.react:graph"))

    admitting = [asyncio.ensure_future(_admit(gateway, r)) for r in requests]
    try:
        # Every admission waits in the queue before any worker polls it (the queue's
        # statistics lag by a few seconds; the admissions are retried meanwhile).
        task_queue = settings.temporal.task_queue
        await eventually(
            lambda: _backlog_at_least(client, task_queue, RUNS),
            within=30,
            what=f"{RUNS} admissions queued",
        )
        async with running_rig(client, settings, scripted_model):
            await asyncio.gather(*admitting)
            turn_ids = [turn_workflow_id(r.turn.thread_id, r.run_id) for r in requests]
            await eventually(
                lambda: _all_closed(client, turn_ids), within=60, what="every turn ended"
            )
    finally:
        for pending in admitting:
            pending.cancel()

    admissions = [
        await _first_task_started(client, thread_workflow_id(r.turn.thread_id)) for r in requests
    ]
    turns = [await _first_task_started(client, t) for t in turn_ids]
    last_admission = max(admissions)
    ahead = [t for t in turns if t < last_admission]
    # In arrival order no turn could start before the last admission: each turn's task is
    # queued only once its own admission has run, after all of them were already waiting.
    assert ahead, "no turn started before the last waiting admission"
    assert len(ahead) >= RUNS // 3, f"only {len(ahead)} of {RUNS} turns went ahead"


async def _admit(gateway: TemporalGateway, request: RunRequest) -> RunAdmission:
    """Admit the run as a client would: retried while no worker takes it (the same run id
    is the same update, so a retry never admits it twice)."""
    for _ in range(ADMISSION_ATTEMPTS - 1):
        try:
            return await gateway.submit_run(request, "tester")
        except TemporalUnavailableError:
            continue
    return await gateway.submit_run(request, "tester")


async def _all_closed(client: Client, workflow_ids: list[str]) -> bool:
    """Every workflow exists and has ended (an admitted turn is started a moment later)."""
    for workflow_id in workflow_ids:
        try:
            described = await client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        if described.status == WorkflowExecutionStatus.RUNNING:
            return False
    return True


async def _backlog_at_least(client: Client, task_queue: str, count: int) -> bool:
    return await _workflow_backlog(client, task_queue) >= count


def _user(text: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}]}
