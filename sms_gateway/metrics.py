"""Prometheus metrics of the gateway (served on /metrics). Phones never appear in labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

SENT = Counter(
    "hallcall_sms_sent_total", "Messages the provider accepted", ["kind"], registry=REGISTRY
)
FAILED = Counter(
    "hallcall_sms_failed_total", "Failed send attempts by error code", ["code"], registry=REGISTRY
)
RETRIED = Counter("hallcall_sms_retried_total", "Sends scheduled again", registry=REGISTRY)
DROPPED = Counter(
    "hallcall_sms_dropped_total",
    "Notices dropped as no longer useful",
    ["reason"],
    registry=REGISTRY,
)
DEAD = Counter("hallcall_sms_dead_total", "Notices moved to the dead letters", registry=REGISTRY)
DUPLICATES = Counter(
    "hallcall_sms_duplicates_total", "Notices received again and ignored", registry=REGISTRY
)
LOOKUPS = Counter(
    "hallcall_sms_lookups_total",
    "Provider lookups after unanswered attempts: found (not sent again), absent (sent), failed",
    ["result"],
    registry=REGISTRY,
)
DEPTH = Gauge("hallcall_sms_outbox_depth", "Notices waiting to be sent", registry=REGISTRY)
LATENCY = Histogram(
    "hallcall_sms_latency_seconds",
    "From the notice's time to the provider's acceptance",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
MQTT_CONNECTED = Gauge(
    "hallcall_sms_mqtt_connected",
    "1 while the hall's broker link is up",
    ["hall"],
    registry=REGISTRY,
)
