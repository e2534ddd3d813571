"""Aggregation: a snapshot becomes scorecards (pandas stays inside this package's modules)."""
