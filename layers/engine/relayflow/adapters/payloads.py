"""Claim-check: values too large for a DynamoDB item or an SQS message live in S3.

A large JSON document is stored under a content-addressed key (so writing it
twice is harmless) and replaced by ``{"$rf_s3": key}``; readers swap it back.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

REF = "$rf_s3"


class PayloadStore:
    def __init__(self, s3: Any, bucket: str, prefix: str = "payloads/"):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.puts = 0
        self.gets = 0

    def dump(self, document: Any, limit: int, scope: str) -> str:
        """JSON text of ``document``; over ``limit`` bytes it goes to S3 and a reference is returned."""
        text = json.dumps(document, separators=(",", ":"), default=str)
        if len(text.encode("utf-8")) <= limit:
            return text
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        key = f"{self.prefix}{scope}/{digest}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                           ContentType="application/json")
        self.puts += 1
        return json.dumps({REF: key})

    def load(self, text: str) -> Any:
        document = json.loads(text)
        if isinstance(document, dict) and len(document) == 1 and REF in document:
            body = self.s3.get_object(Bucket=self.bucket, Key=document[REF])["Body"].read()
            self.gets += 1
            return json.loads(body)
        return document
