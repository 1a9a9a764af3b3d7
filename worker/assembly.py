"""Builds a worker from settings; the worker entry point and the tests share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.model import ModelActivities
from activities.thread_activities import ThreadActivities
from activities.thread_store import ThreadStore
from activities.tools import ToolActivities
from agents.registry import all_tools, load_agent
from core.settings import Settings
from workflows.turn import TurnWorkflow

# Imported for real, not re-imported per run: LangGraph runs inside the workflow, and agent
# graphs live in user modules. Their code must stay deterministic (async nodes, no I/O).
PASSTHROUGH = (
    "langchain_core",
    "langgraph",
    "langsmith",
    "pydantic",
    "agents",
    "core",
    "workflows",
)


@dataclass
class AssembledWorker:
    worker: Worker
    tools: ToolActivities


def build_worker(
    client: Client,
    settings: Settings,
    store: ThreadStore,
    *,
    task_queue: str | None = None,
    extra_graph_refs: tuple[str, ...] = (),
) -> AssembledWorker:
    refs = [*settings.graphs.values(), *extra_graph_refs]
    for ref in refs:
        load_agent(ref)  # fail at start-up, not in the first turn
    tools = ToolActivities(
        all_tools(refs),
        settings.data_path(settings.store.sqlite_path).parent,
        settings.streaming,
    )
    model = ModelActivities(settings)
    threads = ThreadActivities(store)
    throttle = timedelta(milliseconds=settings.heartbeat.throttle_ms)
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )
    worker = Worker(
        client,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=[TurnWorkflow],
        activities=[
            model.call_model,
            tools.run_tool,
            tools.compensate_tool,
            threads.load_thread,
            threads.commit_turn,
        ],
        workflow_runner=runner,
        # Cancellation reaches an activity only via a heartbeat response: this is the knob.
        max_heartbeat_throttle_interval=throttle,
        default_heartbeat_throttle_interval=throttle,
        max_concurrent_activities=200,
    )
    return AssembledWorker(worker=worker, tools=tools)
