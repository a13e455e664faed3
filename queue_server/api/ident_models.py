"""Bodies of the manager's anti-touting routes (防黄牛): the ID blacklist, registered agents
(代办) and today's list of who took several tickets. IDs appear only as digests (and the
first and last character when a manager typed the number)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field

from queue_server.api.models import Body
from queue_server.domain import idnumber
from queue_server.domain.text import clean_or_keep

DIGEST = r"^[0-9a-f]{32}$"
Note = Annotated[str, BeforeValidator(clean_or_keep)]


class IdTarget(Body):
    id_number: str | None = Field(
        default=None,
        max_length=idnumber.MAX_LENGTH,
        description="the resident ID number (kept only as its digest); or give `key`",
    )
    key: str | None = Field(
        default=None, pattern=DIGEST, description="an ID's digest, as the manager's list shows"
    )
    until: datetime | None = Field(
        default=None, description="when the entry ends (with a time zone); none: until removed"
    )


class BlacklistRequest(IdTarget):
    reason: Note = Field(
        min_length=1, max_length=200, description="for managers; never told to the citizen"
    )


class AgentRequest(IdTarget):
    label: Note = Field(
        min_length=1, max_length=60, description="who the agent is, e.g. the agency's name"
    )
    max_per_day: int | None = Field(
        default=None, ge=1, le=10_000, description="tickets a day; none: the hall's agent default"
    )


class IdEntry(Body):
    key: str = Field(description="the ID's digest (HMAC with the server's secret)")
    masked: str = Field(description="first and last character, when added by number; else ''")
    note: str = Field(description="the reason (blacklist) or who the agent is")
    until: datetime | None
    at: datetime
    by: str
    max_per_day: int | None = None


class IdEntries(Body):
    entries: list[IdEntry]


class TicketCount(Body):
    who: str = Field(description="a masked phone number, or an ID's digest")
    count: int
    numbers: list[str]
    agent: bool = Field(default=False, description="a registered agent's ID")


class TicketsReport(Body):
    day: str
    min: int = Field(description="listed from this many tickets")
    ids: list[TicketCount]
    phones: list[TicketCount]
