"""hallcall queue server: tickets, priority, atomic calling on Redis, MQTT push."""
