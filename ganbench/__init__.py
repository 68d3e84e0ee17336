"""ganbench: train reference GANs and measure them with numbers that mean what papers mean.

From Python (docs/api.md): ganbench.fid("samples/", "mnist:test"), its siblings (kid,
prdc, inception_score, fd, cmmd, vendi, fid_infinity, statistics, evaluate) and the
streaming classes (FID, KID, PRDC, FD, CMMD, InceptionScore) for training loops. They are
imported on first use (ganbench.api), so that `import ganbench` and the commands that only
read JSON start without torch.
"""

__version__ = "0.1.0"

#: Names of ganbench.api offered here, imported when first asked for.
API = (
    "fid",
    "kid",
    "prdc",
    "inception_score",
    "fd",
    "cmmd",
    "vendi",
    "fid_infinity",
    "statistics",
    "evaluate",
    "Score",
    "FID",
    "FD",
    "KID",
    "PRDC",
    "CMMD",
    "InceptionScore",
)


def __getattr__(name: str):
    if name == "evaluate":  # the module, which is callable (ganbench/evaluate.py)
        import ganbench.evaluate

        return ganbench.evaluate
    if name in API:
        from ganbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
