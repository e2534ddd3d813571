"""The base of every stage value: frozen, no extra fields, round-trips through JSON."""

from __future__ import annotations

import sys
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# The config of the compact records (``pydantic.dataclasses.dataclass(frozen=True, slots=True,
# config=RECORD)``): the values there are hundreds of thousands of (an incident's timeline events), where
# a model's instance dictionary and field set cost seven times the memory of the values they hold.
RECORD = ConfigDict(extra="forbid")

# A string that repeats across many records (a person's id): one copy in memory, whoever parsed it.
Interned = Annotated[str, AfterValidator(sys.intern)]
