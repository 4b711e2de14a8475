"""Placeholder package; its helper fills it in."""
