"""The base of every stage value: frozen, no extra fields, round-trips through JSON."""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Any, overload

from pydantic import AfterValidator, BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import core_schema


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# The config of the compact records (``pydantic.dataclasses.dataclass(frozen=True, slots=True,
# config=RECORD)``): the values there are hundreds of thousands of (an incident's timeline events), where
# a model's instance dictionary and field set cost seven times the memory of the values they hold.
RECORD = ConfigDict(extra="forbid")

# A string that repeats across many records (a person's id): one copy in memory, whoever parsed it.
Interned = Annotated[str, AfterValidator(sys.intern)]


class FloatColumn(Sequence[float | None]):
    """A long series of optional numbers (an SLO's hourly counts) in an ``array('d')``: 8 bytes a value
    where a list of floats takes 32. Reads as a sequence of ``float | None`` (None stored as NaN, which
    no count is); equal to any sequence of the same values; validated from and serialised as a JSON list."""

    __slots__ = ("values",)

    def __init__(self, values: Iterable[float | None] = ()) -> None:
        self.values = array("d", (math.nan if v is None else v for v in values))

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> float | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[float | None]: ...
    def __getitem__(self, index: int | slice) -> float | list[float | None] | None:
        if isinstance(index, slice):
            return [None if math.isnan(v) else v for v in self.values[index]]
        value = self.values[index]
        return None if math.isnan(value) else value

    def __iter__(self) -> Iterator[float | None]:
        return (None if math.isnan(v) else v for v in self.values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FloatColumn | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mutable-looking sequence compares by value

    def __repr__(self) -> str:
        return f"FloatColumn({list(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        items = core_schema.list_schema(core_schema.nullable_schema(core_schema.float_schema()))
        from_list = core_schema.no_info_after_validator_function(cls, items)
        return core_schema.json_or_python_schema(
            json_schema=from_list,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_list]),
            serialization=core_schema.plain_serializer_function_ser_schema(list, return_schema=items),
        )
