"""Every Redis key of hallcall, built here and nowhere else.

All keys of a hall share the hash tag ``{hall}`` so a hall lives in one Redis Cluster slot.
Scripts receive every key they touch in KEYS (see store/scripts.py for the layout); Lua never
builds a key name.

A day's keys (its tickets, queues, numbers, parked tickets, phone counters) carry the day in
their name and expire two days after it: the day changes by itself, with no sweep.
"""

from __future__ import annotations

DAY_TTL = 2 * 86_400
"""Seconds a day's keys live after they are made: ticket records stay readable the next day
(status, ratings), then go by themselves."""


def prefix(hall: str) -> str:
    return f"hc:{{{hall}}}:"


# -- the hall -------------------------------------------------------------------------------


def seq(hall: str) -> str:
    """The hall's state version: every change bumps it."""
    return prefix(hall) + "seq"


def callseq(hall: str) -> str:
    """The hall's call counter (``seq`` on the calls topic)."""
    return prefix(hall) + "callseq"


def place(hall: str) -> str:
    """The last queue place given (µs): places are strictly increasing per hall."""
    return prefix(hall) + "place"


def rules(hall: str) -> str:
    return prefix(hall) + "rules"


def handle_times(hall: str) -> str:
    return prefix(hall) + "handle"


def recent_calls(hall: str) -> str:
    return prefix(hall) + "recent"


def events(hall: str) -> str:
    return prefix(hall) + "events"


def meta(hall: str) -> str:
    return prefix(hall) + "meta"


def window(hall: str, wid: str) -> str:
    """A window: current ticket, paused and why, signed-in staff."""
    return prefix(hall) + f"w:{wid}"


def window_services(hall: str, wid: str) -> str:
    return prefix(hall) + f"wsvc:{wid}"


# -- a day ----------------------------------------------------------------------------------


def tickets(hall: str, day: str) -> str:
    """The day's ticket records: ticket id -> JSON."""
    return prefix(hall) + f"d:{day}:t"


def queue(hall: str, day: str, service: str, cls: str) -> str:
    return prefix(hall) + f"d:{day}:q:{service}:{cls}"


def day_counter(hall: str, day: str, counter: str) -> str:
    """A quota counter of the day (store/quota.py): "num:A", "phone:<key>", "hour:A:09", …"""
    return prefix(hall) + f"d:{day}:{counter}"


def number_counter(hall: str, day: str, service: str) -> str:
    return day_counter(hall, day, f"num:{service}")


def phone_counter(hall: str, day: str, phone_key: str) -> str:
    return day_counter(hall, day, f"phone:{phone_key}")


def parked(hall: str, day: str, wid: str) -> str:
    return prefix(hall) + f"d:{day}:parked:{wid}"


def window_queue(hall: str, day: str, wid: str) -> str:
    """Tickets transferred to a window (its own queue, called first): id -> original place."""
    return prefix(hall) + f"d:{day}:wq:{wid}"


# -- the outbox of one server process (relay) -----------------------------------------------


def relays(hall: str) -> str:
    """Ids of the relays (server processes) that have an outbox in this hall."""
    return prefix(hall) + "relays"


def outbox(hall: str, relay: str, stream: str) -> str:
    """A relay's outbox stream: "calls" or "notify"."""
    return prefix(hall) + f"ob:{relay}:{stream}"


def outbox_state(hall: str, relay: str) -> str:
    """A relay's entry counters, written by versions before the outbox's one-field form (a
    retired outbox's is deleted with it)."""
    return prefix(hall) + f"ob:{relay}:state"


def lease(hall: str, relay: str) -> str:
    """Held by the live process that publishes this outbox (its owner, or an adopter)."""
    return prefix(hall) + f"ob:{relay}:lease"


def idempotency(hall: str, window: str, key_digest: str) -> str:
    """The stored answer of a window action or an issue sent with an Idempotency-Key (10 min);
    `window` is the scope: the window, or `issue:<role>:<device>` for issuing."""
    return prefix(hall) + f"idem:{window}:{key_digest}"


def staff_windows(hall: str) -> str:
    """Where each staff member is signed in: staff id -> window (one window at a time)."""
    return prefix(hall) + "staffat"


def staff_fails(hall: str, staff: str) -> str:
    """Wrong PINs in a row for a staff id; at the hall's limit it locks the id until it expires."""
    return prefix(hall) + f"pinfail:{staff}"


def ratings(hall: str, day: str) -> str:
    """The 好差评 ratings of the day's tickets: ticket id -> JSON (no phone, name or ID)."""
    return prefix(hall) + f"d:{day}:ratings"


# -- ID numbers and anti-touting (防黄牛): only keyed digests, never the numbers -------------


def id_blacklist(hall: str) -> str:
    """Blacklisted ID digests: digest -> JSON (reason, until, who); an expired entry is
    ignored by every reader."""
    return prefix(hall) + "idblack"


def id_agents(hall: str) -> str:
    """Registered agents (代办): ID digest -> JSON (label, cap, until)."""
    return prefix(hall) + "idagents"


# -- appointments (预约): bookings live until their day has passed; no-shows per ID digest ----


def booking(hall: str, code: str) -> str:
    """A booking by its code: JSON (service, slot, phone, id digest, state, its ticket)."""
    return prefix(hall) + f"appt:b:{code}"


def slot_counts(hall: str, date: str) -> str:
    """Bookings per slot of a date (YYYYMMDD): "{service}|{HHMM}" -> count; and
    "{service}|out" -> the date's bookings not yet checked in (号源 held for them)."""
    return prefix(hall) + f"appt:n:{date}"


def booked_ids(hall: str, date: str) -> str:
    """One booking per ID per service per date: "{service}|{id digest}" -> code."""
    return prefix(hall) + f"appt:id:{date}"


def booked_phone(hall: str, date: str, phone_key: str) -> str:
    """The codes a phone (its digest) booked for a date: check-in by phone."""
    return prefix(hall) + f"appt:ph:{date}:{phone_key}"


def reminders(hall: str) -> str:
    """Bookings waiting for their reminder: code -> when it is due (ms)."""
    return prefix(hall) + "appt:remind"


def check_ins_due(hall: str) -> str:
    """Bookings not checked in: code -> end of their check-in window (ms), then a no-show."""
    return prefix(hall) + "appt:due"


def no_shows(hall: str, id_digest: str) -> str:
    """An ID's no-shows: booking code -> when (ms)."""
    return prefix(hall) + f"appt:ns:{id_digest}"


def booking_block(hall: str, id_digest: str) -> str:
    """Set while an ID may not book (too many no-shows); expires with the block."""
    return prefix(hall) + f"appt:block:{id_digest}"


def appointments_lease(hall: str) -> str:
    """Held by the one server process that sends reminders and counts no-shows."""
    return prefix(hall) + "appt:lease"
