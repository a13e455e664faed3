"""A hall-day simulator: arrivals, windows and staff driven through the real use cases, Lua
scripts and Redis with a simulated clock (`queue-server simulate`)."""
