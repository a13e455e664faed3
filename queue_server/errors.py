"""Refusals a client can act on: a code, a one-line message, and the HTTP status each code
maps to (the API layer uses the table; the use cases only raise)."""

from __future__ import annotations

from datetime import datetime

STATUS = {
    "bad_json": 400,
    "invalid_request": 400,
    "invalid_phone": 400,
    "phone_required": 400,
    "unknown_service": 400,
    "unknown_class": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "bad_secret": 403,
    "staff_only": 403,
    "unknown_hall": 404,
    "unknown_window": 404,
    "unknown_ticket": 404,
    "unknown_action": 404,
    "illegal_transition": 409,
    "no_current": 409,
    "window_paused": 409,
    "same_service": 409,
    "rejoin_expired": 409,
    "rules_conflict": 409,
    "idempotency_pending": 409,
    "idempotency_retry": 409,
    "idempotency_mismatch": 422,
    "ticket_expired": 409,
    "service_unavailable": 409,
    "hall_closed": 409,
    "rules_rejected": 422,
    "bad_pin": 401,
    "staff_locked": 423,
    "signin_required": 409,
    "not_signed_in": 409,
    "already_signed_in": 409,
    "same_window": 409,
    "not_finished": 409,
    "already_rated": 409,
    "rating_closed": 409,
    "wrong_window": 403,
    "reason_needed": 422,
    "phone_limit": 429,
    "capacity_full": 409,  # 今日号源已满 (or this hour's, or past the cut-off): see next_open
    "window_closed": 409,  # outside the window's hours: see next_open
    "rate_limited": 429,
    "body_timeout": 408,
    "client_gone": 400,
    # ID numbers and anti-touting (防黄牛)
    "invalid_id": 400,
    "invalid_id_date": 400,
    "invalid_id_check": 400,
    "blacklisted": 403,
    "id_limit": 429,
    "device_limit": 429,
    "unknown_id": 404,
    # appointments (预约)
    "unknown_slot": 400,
    "no_appointments": 404,
    "unknown_booking": 404,
    "booking_mismatch": 403,
    "booking_blocked": 403,
    "already_booked": 409,
    "slot_full": 409,
    "booking_closed": 409,
    "checkin_too_early": 409,
    "checkin_pending": 409,
    "internal": 500,
    "unavailable": 503,
    "print_failed": 503,  # the kiosk's printer failed: the ticket was voided
}


class Refused(Exception):
    """A request the hall refuses, with a code clients can act on."""

    def __init__(
        self,
        code: str,
        message: str,
        retry_after: int | None = None,
        next_open: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After
        # when what was refused opens again (hall_closed, capacity_full, window_closed)
        self.next_open = next_open

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)
