"""Long-lived objects out of Python's full garbage collections, so that none stalls a voice call.

A full collection walks every object the process tracks. Once the models are loaded that is about
650,000 objects (torch, sentence-transformers, onnxruntime, Gradio): 0.5 s on a 2-core machine,
measured, and the event loop stands still meanwhile, so the avatar's voice stutters and a barge-in
waits. Models and the UI live as long as the app, so once a model is loaded everything alive is
frozen (`gc.freeze`): later full collections walk only what was made since.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_loaded() -> None:
    """Leave every object alive now out of future full collections (call once a model has loaded)."""
    gc.freeze()
    log.debug("gc: %d long-lived objects left out of full collections", gc.get_freeze_count())
