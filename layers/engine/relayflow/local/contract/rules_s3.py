"""S3 object key rules.

Source: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
"""
from __future__ import annotations

from typing import Any

from . import Breach, Contract

KEYS = "S3 User Guide, Naming Amazon S3 objects (key: at most 1,024 bytes of UTF-8)"


def check(operation: str, params: dict[str, Any], contract: Contract) -> Breach | None:
    key = params.get("Key")
    if operation in ("PutObject", "GetObject", "HeadObject", "DeleteObject") and key is not None:
        size = len(key.encode("utf-8"))
        if not 1 <= size <= 1024:
            return Breach("s3.key-length", f"{operation}: the key is {size} bytes (1..1024): {key[:60]}…", KEYS,
                          "KeyTooLongError")
    return None
