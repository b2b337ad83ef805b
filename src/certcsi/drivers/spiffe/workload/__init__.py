"""The SPIFFE Workload API served on a socket inside each opted-in volume."""
