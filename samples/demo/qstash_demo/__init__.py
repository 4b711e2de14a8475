"""The ``make demo`` runner and its end-to-end machinery (not part of the wheel).

``runner`` plays both parts of the demo; ``cases`` builds genuine and forged deliveries;
``e2e`` serves every sample and delivers to it through the stand-in; ``services`` starts,
waits for and always stops the subprocesses (the tests use it too). Run it with
``python samples/demo/run_demo.py`` from the repository (``make demo``).
"""
