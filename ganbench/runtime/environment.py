"""The environment variables through which command-line options reach the code that loads
data and weights deep inside a run (and its worker processes). Kept apart from those
loaders so that the command line can name them without importing torch."""

DATA_ROOT_ENV = "GANBENCH_DATA_ROOT"
DOWNLOAD_ENV = "GANBENCH_DOWNLOAD"
WEIGHTS_ENV = "GANBENCH_INCEPTION_WEIGHTS"
#: --feature-weights: a JSON object {extractor or "": path} (features/weights.py).
FEATURE_WEIGHTS_ENV = "GANBENCH_FEATURE_WEIGHTS"
#: All of them: what a process started elsewhere (a Ray task) must be handed.
INPUT_ENVS = (DATA_ROOT_ENV, DOWNLOAD_ENV, WEIGHTS_ENV, FEATURE_WEIGHTS_ENV)
