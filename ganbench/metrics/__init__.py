"""Metrics: each module opens with the paper it implements and registers itself."""

from ganbench.metrics.base import EvalContext, Measurement

__all__ = ["EvalContext", "Measurement"]
