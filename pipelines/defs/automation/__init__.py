"""Automation run by the daemon: the monthly schedule, the submission sensor, the run-failure alert."""
