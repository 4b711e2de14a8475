"""A minimal Django project receiving QStash deliveries (sync and async, function and class)."""
