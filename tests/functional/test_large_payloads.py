"""Results, inputs and variables larger than a DynamoDB item or an SQS message go to S3
(claim-check) and come back unchanged."""
import pytest

from relayflow.actions.builtin import default_registry
from relayflow.core.loader import load_text

BIG = 5 * 1024 * 1024

WORKFLOW = """
name: big.payloads
tasks:
  - name: produce
    action: test.big
    publish: [{blob: "{{ result().blob }}"}]
    on_success: consume
  - name: consume
    action: core.echo
    input: {size: "{{ vars.blob | length }}", head: "{{ vars.blob[:3] }}", copy: "{{ vars.blob }}"}
output:
  size: "{{ task.consume.result.size }}"
"""


def big(payload, ctx):
    return {"blob": "abc" + "x" * (BIG - 3)}


@pytest.fixture(scope="module")
def stack():
    from relayflow.local.stack import EmbeddedStack
    with EmbeddedStack() as s:
        yield s


def test_a_5_mb_result_flows_through_queues_table_and_templates(stack):
    registry = default_registry()
    registry.register("test.big", big)
    stack.runtime.actions = registry
    stack.register(load_text(WORKFLOW))
    puts_before = stack.runtime.payloads.puts
    result = stack.run("big.payloads", {})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"size": BIG}
    produced, consumed = result["tasks"]
    assert len(produced["result"]["blob"]) == BIG
    assert consumed["result"]["head"] == "abc" and len(consumed["result"]["copy"]) == BIG
    # The result, the published variable, the rendered input and the messages carrying them
    # were too large to store inline.
    assert stack.runtime.payloads.puts - puts_before >= 3
    assert stack.runtime.payloads.gets > 0
