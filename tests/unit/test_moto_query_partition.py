"""moto_tuning's Query: it reads the queried partition only, and answers exactly as moto did."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from relayflow.local import moto_tuning


@pytest.fixture
def dynamodb(monkeypatch):
    """A DynamoDB client on moto with its tuning applied."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    moto_tuning.apply()
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table(dynamodb):
    client = dynamodb
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


@pytest.fixture
def indexed(dynamodb):
    client = dynamodb
    attrs = [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "ipk", "isk")]
    client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST", AttributeDefinitions=attrs,
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        GlobalSecondaryIndexes=[{
                            "IndexName": "idx", "Projection": {"ProjectionType": "KEYS_ONLY"},
                            "KeySchema": [{"AttributeName": "ipk", "KeyType": "HASH"},
                                          {"AttributeName": "isk", "KeyType": "RANGE"}]}])
    for i in reversed(range(40)):  # index keys that tie (isk b0..b3): the table's keys order them
        client.put_item(TableName="t", Item={"pk": {"S": f"p{i % 7}"}, "sk": {"S": f"s{i:02d}"},
                                             "ipk": {"S": "I" if i % 3 else "J"}, "isk": {"S": f"b{i % 4}"}})
    client.put_item(TableName="t", Item={"pk": {"S": "p0"}, "sk": {"S": "none"}})  # not in the index
    yield client


def test_an_index_query_answers_in_the_index_order_the_table_keys_breaking_ties(indexed):
    expected = sorted(((f"b{i % 4}", f"p{i % 7}", f"s{i:02d}") for i in range(40) if i % 3),)
    query = dict(TableName="t", IndexName="idx", KeyConditionExpression="ipk = :p",
                 ExpressionAttributeValues={":p": {"S": "I"}})
    got, start = [], None
    while True:
        page = indexed.query(**query, Limit=7, **({"ExclusiveStartKey": start} if start else {}))
        got += [(it["isk"]["S"], it["pk"]["S"], it["sk"]["S"]) for it in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert got == expected
    backwards = indexed.query(**query, ScanIndexForward=False, Limit=3)["Items"]
    assert [(it["isk"]["S"], it["pk"]["S"], it["sk"]["S"]) for it in backwards] == expected[::-1][:3]
    ranged = indexed.query(TableName="t", IndexName="idx", KeyConditionExpression="ipk = :p AND isk < :b",
                           ExpressionAttributeValues={":p": {"S": "J"}, ":b": {"S": "b2"}})["Items"]
    assert [it["sk"]["S"] for it in ranged] == [f"s{i:02d}" for i in sorted(
        range(40), key=lambda i: (f"b{i % 4}", f"p{i % 7}", f"s{i:02d}")) if i % 3 == 0 and i % 4 < 2]


def test_an_index_query_does_not_sort_the_whole_table(indexed, monkeypatch):
    import moto.dynamodb.models.table as moto_table

    lengths: list[int] = []

    def counted(items, *args, **kwargs):
        items = list(items)
        lengths.append(len(items))
        return sorted(items, *args, **kwargs)

    monkeypatch.setattr(moto_table, "sorted", counted, raising=False)  # found before the builtin
    page = indexed.query(TableName="t", IndexName="idx", KeyConditionExpression="ipk = :p",
                         ExpressionAttributeValues={":p": {"S": "J"}})
    assert len(page["Items"]) == 14
    assert lengths == []  # moto sorts the index partition in place; the table's 41 items are never sorted


def test_key_values_compare_as_moto_compares_them(dynamodb) -> None:
    """The quick comparison of two strings gives moto's own answer, for every operator, and
    any other pair is still moto's to compare."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    values = [DynamoType({"S": s}) for s in ("", "a", "A", "a#1", "a#10", "a#2", "é", "\U0001f600", "ｚ")]
    values += [DynamoType({"N": n}) for n in ("1", "10", "2", "-3.5")]
    for name in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        quick = getattr(DynamoType, name)
        moto = quick.__wrapped__  # moto's own, kept by the tuning (an AttributeError without it)
        for a in values:
            for b in values:
                if a.type != b.type and name not in ("__eq__", "__ne__"):
                    continue  # moto compares a number with a string only for (in)equality
                assert quick(a, b) == moto(a, b), (name, a, b)


def test_a_query_of_one_newest_item_answers_as_before(table) -> None:
    # a page of one, newest first: a loop's read of its latest run
    page = table.query(TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                       ExpressionAttributeValues={":p": {"S": "B"}, ":s": {"S": "u#1"}},
                       ScanIndexForward=False, Limit=1)
    assert keys(page) == ["u#199"]
    assert page["LastEvaluatedKey"] == {"pk": {"S": "B"}, "sk": {"S": "u#199"}}
