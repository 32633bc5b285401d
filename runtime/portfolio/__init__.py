"""Portfolio construction: covariance estimates and weights of a universe (pure numpy)."""
