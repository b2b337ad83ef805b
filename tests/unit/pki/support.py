"""Constants shared by the pki tests."""

from datetime import UTC, datetime

# The injected clock: every certificate in these tests is issued "now".
NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
