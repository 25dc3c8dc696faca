import os
import random
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

# The property tests' fresh seed is drawn here, once per run, before pytest-xdist starts its
# workers: they inherit the environment, so every worker runs on the seed the summary reports.
os.environ.setdefault("RELAYFLOW_PROPERTY_SEED", str(random.SystemRandom().randrange(2**32)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    seed = os.environ["RELAYFLOW_PROPERTY_SEED"]
    terminalreporter.write_line(f"relayflow property seed: {seed} (replay: RELAYFLOW_PROPERTY_SEED={seed})")
