"""Benefits realisation and channel-shift savings."""
