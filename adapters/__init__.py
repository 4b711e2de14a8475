"""Thin framework adapters. Import the one you need, e.g. ``qstash_receiver.adapters.flask``."""
