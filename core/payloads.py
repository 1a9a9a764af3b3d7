"""How the turn's contracts travel through Temporal: JSON, exactly as with the SDK's default
converter, but each dataclass's field types are worked out once per class.

The SDK's default decoder calls `typing.get_type_hints` on every dataclass it decodes, and
our annotations are strings (`from __future__ import annotations`), so each decode compiles
and evaluates them again: a nested payload (a run request holding a turn input holding
message and outbox lists) costs dozens of such calls. Measured with py-spy on the worker:
a tenth of its CPU per turn went there.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from temporalio.client import Client
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)


@functools.cache
def _init_fields(cls: type) -> tuple[tuple[str, Any], ...] | None:
    """(name, type) of each field, or None if some field is not an __init__ argument (the
    SDK's own path sets those after construction)."""
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields):
        return None
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in fields)


class _Dataclasses(JSONTypeConverter):
    """A dataclass from its JSON object: known fields converted to their types, unknown
    keys ignored, a missing required field a TypeError (as the SDK does)."""

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if not (
            isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict)
        ):
            return JSONTypeConverter.Unhandled
        fields = _init_fields(hint)
        if fields is None:
            return JSONTypeConverter.Unhandled
        return hint(
            **{
                name: value_to_type(field_type, value[name], [self])
                for name, field_type in fields
                if name in value
            }
        )


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default payload converters, with the JSON one decoding dataclasses fast."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(custom_type_converters=[_Dataclasses()])
                if isinstance(converter, JSONPlainPayloadConverter)
                else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = dataclasses.replace(
    DataConverter.default, payload_converter_class=PayloadConverter
)


def with_payload_converter(client: Client) -> Client:
    """The same connection, decoding with PayloadConverter (a worker built on a test's or
    a user's client gets it too)."""
    config = client.config()
    if config["data_converter"].payload_converter_class is PayloadConverter:
        return client
    config["data_converter"] = DATA_CONVERTER
    return Client(**config)
