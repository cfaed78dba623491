"""Frontline: role-play practice for customer-facing staff, scored by a local transformer model."""

__version__ = "0.1.0"
