"""Builds a worker from settings; the worker entry point and the tests share it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.model import ModelActivities
from activities.thread_activities import ThreadActivities
from activities.tools import ToolActivities
from activities.turn_activities import TurnActivities
from agents.registry import all_tools, load_agent
from broker import Broker
from core.payloads import with_payload_converter
from core.settings import Settings
from stores.record_store import RecordStore
from stores.thread_store import ThreadStore
from worker.context_free_sandbox import ContextFreeSandboxRunner, needs_contexts
from workflows.thread import ThreadWorkflow
from workflows.turn import TurnWorkflow

# Imported for real, not re-imported per run: LangGraph runs inside the workflow, and agent
# graphs live in user modules. Their code must stay deterministic (async nodes, no I/O).
PASSTHROUGH = (
    "langchain_core",
    "langgraph",
    "langsmith",
    "pydantic",
    "orjson",
    "agents",
    "core",
    "workflows",
    "activities",
    "broker",
    "stores",
)


@dataclass
class Stores:
    threads: ThreadStore
    records: RecordStore
    broker: Broker


@dataclass
class AssembledWorker:
    """`async with` runs the worker; leaving it shuts the worker down, then closes what
    its activities hold open."""

    worker: Worker
    tools: ToolActivities
    model: ModelActivities

    async def __aenter__(self) -> AssembledWorker:
        await self.worker.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self.worker.__aexit__(*exc_info)
        finally:
            await self.model.aclose()


def workflow_runner(settings: Settings, converter: DataConverter) -> WorkflowRunner:
    """The turn's runner: the sandbox, without its serialization-context round trips when
    the converter cannot use them (see worker.context_free_sandbox)."""
    if not settings.worker.sandbox:
        return UnsandboxedWorkflowRunner()
    sandbox = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )
    if needs_contexts(converter):
        return sandbox
    return ContextFreeSandboxRunner(sandbox)


def build_worker(
    client: Client,
    settings: Settings,
    stores: Stores,
    *,
    task_queue: str | None = None,
    extra_graph_refs: tuple[str, ...] = (),
) -> AssembledWorker:
    refs = [*settings.graphs.values(), *extra_graph_refs]
    for ref in refs:
        load_agent(ref)  # fail at start-up, not in the first turn
    pools = (
        ThreadPoolExecutor(settings.tools.max_threads, thread_name_prefix="tool"),
        ThreadPoolExecutor(settings.tools.compensation_threads, thread_name_prefix="undo"),
    )
    tools = ToolActivities(
        all_tools(refs),
        settings.data_path(settings.store.sqlite_path).parent,
        stores.broker,
        settings.tools,
        pools,
    )
    model = ModelActivities(settings, stores.broker, stores.threads)
    worker_client = with_payload_converter(client)
    turns = TurnActivities(stores.threads, stores.records, stores.broker, worker_client)
    threads = ThreadActivities(stores.records, stores.threads, stores.broker, worker_client)
    throttle = timedelta(milliseconds=settings.heartbeat.throttle_ms)
    runner = workflow_runner(settings, worker_client.data_converter)
    role = settings.worker.role
    # Local activities run inside the workflow worker that schedules them.
    local: list[Callable[..., Any]] = [
        turns.begin_turn,
        turns.start_run,
        turns.recorded_stop,
        threads.open_turn,
    ]
    remote: list[Callable[..., Any]] = [
        model.call_model,
        tools.run_tool,
        tools.compensate_tool,
        turns.finish_turn,
        turns.recover_partial_answer,
        threads.end_run,
        threads.terminate_turn,
        threads.turn_closed,
        threads.forget_thread,
    ]
    worker = Worker(
        worker_client,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=[ThreadWorkflow, TurnWorkflow] if role in ("all", "workflows") else [],
        activities=local if role == "workflows" else [*local, *remote],
        no_remote_activities=role == "workflows",
        workflow_runner=runner,
        # Heartbeats are liveness only; Temporal's cancel on a heartbeat response is the
        # fallback Stop when the broker is down, so the throttle bounds that fallback.
        max_heartbeat_throttle_interval=throttle,
        default_heartbeat_throttle_interval=throttle,
        max_concurrent_activities=settings.worker.max_concurrent_activities,
        max_concurrent_workflow_task_polls=settings.worker.workflow_task_pollers,
        max_concurrent_workflow_tasks=settings.worker.max_concurrent_workflow_tasks,
    )
    return AssembledWorker(worker=worker, tools=tools, model=model)
