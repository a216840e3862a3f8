"""Typed messages: wire types of the Codex app-server protocol (0.58.0) and internal actor messages."""
