"""SMS gateway: hallcall notices to citizens' phones, each exactly once.

Notices arrive on ``hallcall/{hall}/notify`` (QoS 1, persistent session). Each is written to a
SQLite outbox before the broker gets its acknowledgement; senders work from that outbox with
retries, rate limits and a dead-letter state, through a pluggable provider.
"""
