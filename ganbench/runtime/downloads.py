"""The one switch that lets ganbench use the network.

Our users' clusters and CI have none, so nothing is downloaded unless the user
asks (`--download`, or GANBENCH_DOWNLOAD=1): datasets and weights otherwise
come from packages or a path the user gives, and a missing file is an error
that says where to put it.
"""

from __future__ import annotations

import os

from ganbench.runtime.environment import DOWNLOAD_ENV


def downloads_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV) == "1"
