"""relayflow: a serverless workflow orchestrator."""
__version__ = "0.1.0"
