"""Fault injection for the resume tests: ``CSR_TRAIN_INTERRUPT=<point>:<n>`` acts as Ctrl-C at that point.

Points: ``generate:n`` (before batch n), ``dpo:n`` (right after trainer checkpoint n), ``<stage>_done:t``
(after stage work of iteration t, before the manifest marks it done). Unset, it does nothing.
"""

from __future__ import annotations

import os


def interrupt_point(stage: str, count: int) -> None:
    """Raise KeyboardInterrupt when the environment names this point and ``count`` has reached n."""
    spec = os.environ.get("CSR_TRAIN_INTERRUPT", "")
    if spec and spec.split(":")[0] == stage and count >= int(spec.split(":")[1]):
        raise KeyboardInterrupt(f"injected interrupt in {stage} after {count}")
