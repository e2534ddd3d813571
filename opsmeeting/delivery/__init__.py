"""Delivery of what rendering made: the pre-read by email."""
