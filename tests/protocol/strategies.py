"""Hypothesis strategies that build valid head messages from the models themselves."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

from annotated_types import Ge, Gt, Le, MaxLen, MinLen
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agentsocket.protocol import ClientEnvelope, ServerEnvelope
from agentsocket.protocol.client_messages import CLIENT_MESSAGES, TRACEPARENT_PATTERN
from agentsocket.protocol.server_messages import SERVER_MESSAGES

# Valid text never holds U+0000 (protocol/limits.py); the fuzz suite sends it on purpose.
CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(CHARACTERS, max_size=20)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(CHARACTERS, max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
IDENTIFIER = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,24}\Z")
TRACEPARENT = st.builds(
    "00-{:032x}-{:016x}-{:02x}".format,
    st.integers(1, 2**128 - 1),
    st.integers(1, 2**64 - 1),
    st.integers(0, 255),
)
TIME = st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False, allow_infinity=False)


_BOUNDS = ((Ge, "ge"), (Gt, "gt"), (Le, "le"), (MinLen, "min_length"), (MaxLen, "max_length"))


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        for kind, attribute in _BOUNDS:
            if isinstance(item, kind):
                found[kind.__name__] = getattr(item, attribute)
        if getattr(item, "pattern", None):
            found["pattern"] = item.pattern
    return found


def for_annotation(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        meta = [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        return for_annotation(inner, metadata + meta)
    if origin in (Union, types.UnionType):
        return st.one_of([for_annotation(arg, metadata) for arg in typing.get_args(annotation)])
    if origin is Literal:
        return st.sampled_from(typing.get_args(annotation))
    if origin is list:
        return st.lists(for_annotation(typing.get_args(annotation)[0], []), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(CHARACTERS, max_size=8), JSON, max_size=3)
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    bounds = _bounds(metadata)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = bounds.get("Ge", bounds.get("Gt", -1) + 1 if "Gt" in bounds else 0)
        return st.integers(low, min(bounds.get("Le", 2**31), 2**31))
    if annotation is float:
        return TIME
    if annotation is str:
        if "pattern" in bounds:
            return TRACEPARENT if bounds["pattern"] == TRACEPARENT_PATTERN else IDENTIFIER
        return st.text(CHARACTERS, min_size=max(1, bounds.get("MinLen", 0)), max_size=40)
    if isinstance(annotation, type) and issubclass(annotation, str):  # StrEnum
        return st.sampled_from(list(annotation))  # type: ignore[call-overload]
    if annotation is Any:
        return JSON
    raise NotImplementedError(annotation)


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    fields = {
        name: for_annotation(info.annotation, list(info.metadata))
        for name, info in model.model_fields.items()
    }
    return st.fixed_dictionaries(fields).map(model.model_validate)


server_envelopes = st.sampled_from(sorted(SERVER_MESSAGES)).flatmap(
    lambda t: st.builds(
        ServerEnvelope,
        message=model_strategy(SERVER_MESSAGES[t]),
        timestamp=TIME,
        server_id=st.none() | IDENTIFIER,
        correlation_id=st.none() | IDENTIFIER,
        seq=st.integers(1, 2**40) if SERVER_MESSAGES[t].STREAM else st.none(),
    )
)
client_envelopes = st.sampled_from(sorted(CLIENT_MESSAGES)).flatmap(
    lambda t: st.builds(
        ClientEnvelope,
        message=model_strategy(CLIENT_MESSAGES[t]),
        correlation_id=st.none() | IDENTIFIER,
    )
)
