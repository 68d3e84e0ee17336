"""ganbench from Python: every metric as a function, on folders, .npz statistics, tensors,
generators or named splits ("mnist:test"), and as a streaming class for training loops.

    import ganbench
    ganbench.fid("samples/", "mnist:test")            # a Score: a float with its settings
    fid = ganbench.FID(reference="mnist:test")         # update(images) ... compute()

docs/api.md shows each; the values equal the CLI's and a suite's on the same inputs.
"""

from ganbench.api.functions import (
    cmmd,
    fd,
    fid,
    fid_infinity,
    inception_score,
    kid,
    prdc,
    vendi,
)
from ganbench.api.precomputed import statistics
from ganbench.evaluate import evaluate
from ganbench.metrics.base import Score

#: The streaming classes, imported on first use (they import torchmetrics where installed).
STREAMING = ("FID", "FD", "KID", "PRDC", "CMMD", "InceptionScore")

__all__ = [
    "Score",
    "cmmd",
    "evaluate",
    "fd",
    "fid",
    "fid_infinity",
    "inception_score",
    "kid",
    "prdc",
    "statistics",
    "vendi",
    *STREAMING,
]


def __getattr__(name: str):
    if name in STREAMING:
        from ganbench.api import streaming

        return getattr(streaming, name)
    raise AttributeError(f"module 'ganbench.api' has no attribute {name!r}")
