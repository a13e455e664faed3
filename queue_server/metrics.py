"""Prometheus metrics of one server process (served on /metrics)."""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

REGISTRY = CollectorRegistry()

TICKETS = Counter(
    "hallcall_tickets_issued_total", "Tickets issued", ["hall", "service"], registry=REGISTRY
)
CALLS = Counter(
    "hallcall_calls_total", "Calls and recalls made", ["hall", "kind"], registry=REGISTRY
)
ACTIONS = Counter(
    "hallcall_window_actions_total",
    "Window actions by outcome",
    ["hall", "action", "outcome"],
    registry=REGISTRY,
)
HTTP = Histogram(
    "hallcall_http_seconds",
    "HTTP request time",
    ["route", "status"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
    registry=REGISTRY,
)
MQTT_CONNECTED = Gauge(
    "hallcall_mqtt_connected", "1 while the hall's broker link is up", ["hall"], registry=REGISTRY
)
OUTBOX_LAG = Gauge(
    "hallcall_outbox_lag_seconds",
    "Age of the oldest outbox entry not yet acknowledged by the broker (0: caught up)",
    ["hall"],
    registry=REGISTRY,
)
RELAYED = Counter(
    "hallcall_relay_published_total",
    "Outbox entries published and acknowledged by the broker",
    ["hall", "stream"],
    registry=REGISTRY,
)
SNAPSHOTS = Counter(
    "hallcall_snapshots_published_total",
    "Retained snapshot rounds published",
    ["hall"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "hallcall_auth_failures_total", "Requests with a wrong token", ["hall"], registry=REGISTRY
)
RATE_LIMITED = Counter(
    "hallcall_rate_limited_total",
    "Requests refused with 429 rate_limited (public: token-less rate; tokens: wrong tokens)",
    ["hall", "kind"],
    registry=REGISTRY,
)
CONNECTIONS_REFUSED = Counter(
    "hallcall_connections_refused_total",
    "HTTP connections closed at once: over the global or the per-address cap",
    ["reason"],
    registry=REGISTRY,
)
CONNECTIONS = Gauge("hallcall_http_connections", "Open HTTP connections", registry=REGISTRY)
PRINTS = Counter(
    "hallcall_kiosk_prints_total",
    "Kiosk ESC/POS tickets by outcome (printed, or voided after failing)",
    ["hall", "outcome"],
    registry=REGISTRY,
)

M = TypeVar("M", bound=MetricWrapperBase)
_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: M, *labels: str) -> M:
    """`metric.labels(*labels)`, looked up once: the same child, without prometheus_client's
    label checks and lock on every ticket and request."""
    key = (id(metric), labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*labels)
    return found
