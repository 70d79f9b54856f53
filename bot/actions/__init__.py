"""Agents that act: Confirm / Cancel for paused agents, and the caller's own action handlers."""
