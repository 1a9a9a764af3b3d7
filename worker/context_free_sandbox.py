"""The sandboxed workflow runner, minus a round trip into the sandbox per payload list.

temporalio 1.35 passes over every activation and every completion three times each, and
for each payload list it asks the workflow instance for a serialization context. A sandboxed
instance answers by `exec`-ing a freshly compiled snippet inside the sandbox. py-spy put
that at about a tenth of the worker's CPU while many turns start at once. Measured: a
burst of 20 short turns cost the worker 0.76 s of CPU instead of 0.89 s.

Only a payload codec or external storage uses those contexts, and chatstop's data
converter has neither. So this runner answers from outside the sandbox:
- no serialization context;
- the running workflow as the external-store target (the SDK's own answer for a
  workflow's payloads).
Everything the workflow code does still runs in the sandbox: activations pass through
unchanged. `worker.assembly.workflow_runner` falls back to the plain sandbox when the
converter has a codec or external storage.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    DataConverter,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
)
from temporalio.worker import (
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info


def needs_contexts(converter: DataConverter) -> bool:
    """Whether serialization contexts can change what a payload becomes."""
    return converter.payload_codec is not None or converter.external_storage is not None


class ContextFreeSandboxRunner(WorkflowRunner):
    """A `SandboxedWorkflowRunner` for a data converter without codec or external storage."""

    def __init__(self, sandbox: SandboxedWorkflowRunner) -> None:
        self._sandbox = sandbox

    def prepare_workflow(self, defn: object) -> None:
        # A workflow definition's type (temporalio.workflow._Definition) is private.
        self._sandbox.prepare_workflow(defn)  # type: ignore[arg-type]

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self._sandbox.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._sandbox.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    """A sandboxed workflow instance; only the two context questions stay outside."""

    def __init__(self, sandboxed: WorkflowInstance) -> None:
        self._sandboxed = sandboxed
        info = sandboxed.get_info()
        self._store_context = StorageDriverStoreContext(
            target=StorageDriverWorkflowInfo(
                id=info.workflow_id,
                run_id=info.run_id,
                type=info.workflow_type,
                namespace=info.namespace,
            )
        )

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._sandboxed.activate(act)

    def get_serialization_context(self, command_info: object) -> None:
        return None

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return self._store_context

    def get_info(self) -> Info:
        return self._sandboxed.get_info()

    def get_thread_id(self) -> int | None:
        return self._sandboxed.get_thread_id()
