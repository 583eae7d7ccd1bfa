"""Housekeeping: the retention policy, and backup and restore."""
