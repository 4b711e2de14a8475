"""``make demo``: ``python samples/demo/run_demo.py [--in-process-only] [--platforms ...]``.

A script, so that its folder (and with it ``qstash_demo``) is on ``sys.path`` without an
install: the demo lives beside the samples, outside the wheel.
"""

from qstash_demo.runner import main

raise SystemExit(main())
