"""aws.lambda invokes a function with input.payload; offline, functions are registered callables."""
import pytest

from relayflow.core.loader import load_text

WORKFLOW = """
name: l.resize
tasks:
  - name: resize
    action: aws.lambda
    input: {function: resize, payload: {width: 100, image: "{{ input.image }}"}}
    on_success: done
    on_failure: fallback
  - {name: done, action: core.echo, input: {url: "{{ task.resize.result.url }}"}}
  - {name: fallback, action: core.noop}
"""


def resize(payload):
    if payload["image"] == "broken.png":
        raise ValueError("cannot decode image")
    return {"url": f"s3://thumbs/{payload['width']}/{payload['image']}"}


@pytest.fixture(scope="module")
def stack():
    from relayflow.local.stack import EmbeddedStack
    with EmbeddedStack() as s:
        s.functions.register("resize", resize)
        s.register(load_text(WORKFLOW))
        yield s


def test_the_function_response_is_the_task_result(stack):
    result = stack.run("l.resize", {"image": "cat.png"})
    assert result["status"] == "succeeded"
    assert result["tasks"][0]["result"] == {"url": "s3://thumbs/100/cat.png"}
    assert result["tasks"][1]["result"] == {"url": "s3://thumbs/100/cat.png"}


def test_a_function_error_fails_the_task_with_its_type(stack):
    result = stack.run("l.resize", {"image": "broken.png"})
    assert [(t["name"], t["status"]) for t in result["tasks"]] == [("resize", "failed"), ("fallback", "succeeded")]
    assert result["tasks"][0]["error"] == {"type": "ValueError", "message": "resize: cannot decode image"}


def test_an_unknown_function_fails_the_task_clearly(stack):
    stack.register(load_text(WORKFLOW.replace("function: resize", "function: nope").replace("l.resize", "l.nope")))
    result = stack.run("l.nope", {"image": "cat.png"})
    assert result["tasks"][0]["error"]["type"] == "ResourceNotFound"
    assert "nope" in result["tasks"][0]["error"]["message"]


def test_on_aws_the_boto3_invoker_reports_function_errors():
    import io
    import json

    from relayflow.actions.aws_lambda import boto3_invoker
    from relayflow.actions.errors import ActionFailed

    class FakeLambda:
        def invoke(self, **kw):
            assert kw["InvocationType"] == "RequestResponse" and json.loads(kw["Payload"]) == {"x": 1}
            body = {"errorMessage": "boom", "errorType": "KeyError"}
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}

    with pytest.raises(ActionFailed) as err:
        boto3_invoker(FakeLambda())("fn", {"x": 1})
    assert err.value.type == "KeyError" and "boom" in str(err.value)
