"""Governance of the secure bubble: access, disclosure control, airlock, transparency."""
