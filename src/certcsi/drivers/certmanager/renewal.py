"""When a csi.cert-manager.io certificate is due for renewal, from its leaf's validity window."""

from __future__ import annotations

from datetime import datetime, timedelta


def default_renewal_time(not_before: datetime, not_after: datetime) -> datetime:
    """Two thirds into the validity window: NotAfter - (NotAfter - NotBefore)/3, as csi-lib does."""
    return not_after - (not_after - not_before) // 3


def renew_before_time(not_before: datetime, not_after: datetime, renew_before: timedelta | None) -> datetime:
    """NotAfter - renew_before, if that falls after NotBefore; otherwise the default time.

    A `renew-before` as long as the certificate's lifetime (the issuer may grant less than the
    requested duration) would mean renewing at once, forever; upstream falls back to the default
    instead, and so do we.
    """
    if renew_before is not None and not_before + renew_before < not_after:
        return not_after - renew_before
    return default_renewal_time(not_before, not_after)
