"""Shared pytest configuration. Area-specific fixtures live in their own test modules."""
