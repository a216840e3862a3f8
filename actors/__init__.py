"""The server's actors: one actor per module, each owning and serialising its own state."""
