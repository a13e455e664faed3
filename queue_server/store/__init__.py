"""Redis store: keys, atomic Lua scripts, and the hall store that runs them."""
