"""The driver-agnostic engine (csi-lib's role): publish, renew and unpublish ephemeral certificate volumes."""
