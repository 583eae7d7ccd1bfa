"""Quality gates: Great Expectations suites as asset checks, submission status, method drift."""
