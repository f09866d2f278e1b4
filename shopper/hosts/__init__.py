"""Worker processes that place calls for shopper: what they share (shopper.hosts.processes)
and the call hosts of `shopper run --processes K` (shopper.hosts.pool)."""
