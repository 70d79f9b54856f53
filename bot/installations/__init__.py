"""Many workspaces (OAuth mode): installations in Redis, sealed; per-request workspace tokens."""
