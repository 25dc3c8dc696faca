"""`relayflow run` on the embedded stack fails loudly when a call breaks AWS's rules
(its own module: one embedded stack lives at a time)."""
from __future__ import annotations


def test_relayflow_run_fails_loudly_on_a_breach(tmp_path, capsys, monkeypatch):
    # Make the contract stricter than our code (group ids of at most 8 characters) so that
    # a plain run breaks it: the run must stop with the breach, not succeed quietly.
    from relayflow import cli
    from relayflow.local.contract import rules_sqs
    monkeypatch.setattr(rules_sqs, "FIFO_ID_MAX", 8)
    wf = tmp_path / "wf.yaml"
    wf.write_text("name: loud\ntasks:\n  - {name: a, action: core.echo, input: {x: 1}}\n")
    code = cli.main(["run", str(wf), "--json"])
    err = capsys.readouterr().err
    assert code == 1
    assert "broke AWS's rules" in err and "sqs.fifo-id-length" in err
