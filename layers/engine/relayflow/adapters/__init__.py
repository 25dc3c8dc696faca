"""The adapters behind the ports: DynamoDB, SQS, Scheduler, EventBridge and S3, and their
in-memory twins. Import the module you need; nothing is re-exported here."""

__all__: list[str] = []
