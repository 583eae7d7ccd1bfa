"""Facts: one row per service x month x channel, and per service x month."""
