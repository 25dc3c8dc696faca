"""moto_tuning's Query: it reads the queried partition only, and answers exactly as moto did."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from relayflow.local import moto_tuning


@pytest.fixture
def table(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    moto_tuning.apply()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}])
        for pk, n in (("A", 30), ("B", 200), ("C", 5)):
            for i in reversed(range(n)):  # written out of order: the answer is sorted by moto
                client.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": f"u#{i:03d}"},
                                                     "v": {"N": str(i)}})
        client.put_item(TableName="t", Item={"pk": {"S": "A"}, "sk": {"S": "head"}})
        yield client


def keys(page):
    return [item["sk"]["S"] for item in page["Items"]]


def test_a_query_answers_its_partition_in_order_with_conditions_and_pages(table):
    everything = keys(table.query(TableName="t", KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": "A"}}))
    assert everything == ["head"] + [f"u#{i:03d}" for i in range(30)]
    units = dict(TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :u)",
                 ExpressionAttributeValues={":p": {"S": "A"}, ":u": {"S": "u#"}})
    first = table.query(**units, Limit=12)
    rest = table.query(**units, Limit=100, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert keys(first) + keys(rest) == [f"u#{i:03d}" for i in range(30)] and "LastEvaluatedKey" not in rest
    backwards = table.query(**units, ScanIndexForward=False, Limit=3)
    assert keys(backwards) == ["u#029", "u#028", "u#027"]
    filtered = table.query(**{**units, "ExpressionAttributeValues": {
        ":p": {"S": "A"}, ":u": {"S": "u#"}, ":n": {"N": "26"}}}, FilterExpression="v > :n")
    assert keys(filtered) == ["u#027", "u#028", "u#029"]
    assert table.query(TableName="t", KeyConditionExpression="pk = :p",
                       ExpressionAttributeValues={":p": {"S": "Z"}})["Items"] == []
    assert len(table.scan(TableName="t")["Items"]) == 236  # a scan still sees every partition


def test_a_query_never_reads_the_other_partitions(table, monkeypatch):
    read: list[str] = []
    every = Table.all_items

    def watched(self):
        items = every(self)
        read.extend(item.hash_key.value for item in items)
        return items

    monkeypatch.setattr(Table, "all_items", watched)
    table.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "C"}})
    assert set(read) == {"C"} and len(read) == 5  # not the 200 of B, nor A's
