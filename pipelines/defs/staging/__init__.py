"""Staged layer: typed canonical tables from the archived submissions, rejected rows in quarantine."""
