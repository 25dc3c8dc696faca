#!/usr/bin/env python3
"""Lint the SAM template twice: as written, and after offline translation.

cfn-lint runs the SAM transform itself, but it does not report errors inside
the resources SAM generates: a bad ``Runtime`` in ``Globals``, a misspelt
``FunctionResponseTypes`` value or a dangling ``!Ref`` in a policy all pass.
Linting the translated CloudFormation catches them, so this script does both:

1. ``cfn-lint template.yaml`` as written;
2. translate the template offline with ``samtranslator`` (explicit region,
   local ``CodeUri``/``ContentUri`` swapped for an S3 placeholder, managed
   policy map stubbed: no AWS credentials or network needed), write the
   CloudFormation JSON to a temporary file and lint that.

Usage::

    python infra/scripts/lint_template.py [TEMPLATE] [--region us-east-1] [--keep FILE.json]

Exit status: 0 when neither pass reports an error or an unaccepted warning,
1 otherwise, 2 when the template cannot be read. Accepted warnings (see
``ACCEPTED_WARNINGS``) are printed but do not fail the run.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
ARTIFACT_PLACEHOLDER = "s3://relayflow-local-artifacts/code.zip"

RAW = "raw"
TRANSLATED = "translated"

#: Warnings that may appear without failing the lint: ``(pass, rule id) -> reason``.
#: Empty today: both passes are clean. Add an entry only with a reason a
#: reviewer can check (e.g. ``(TRANSLATED, "W1020")``: "Fn::Sub isn't needed"
#: appears when the translator inlines a parameter default into a string it
#: generates; the template as written has no such Sub).
ACCEPTED_WARNINGS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Finding:
    """One cfn-lint match (or translation failure), flattened for printing and tests."""

    stage: str  # RAW or TRANSLATED
    rule: str  # e.g. "E3030"; "SAM" for a translation failure
    severity: str  # "error", "warning" or "informational"
    message: str
    filename: str
    line: int
    path: tuple[Any, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.severity == "warning" and (self.stage, self.rule) in ACCEPTED_WARNINGS

    def __str__(self) -> str:
        # The translated file is temporary, so its line numbers mean little: show the path.
        where = f"{self.filename}:{self.line}"
        if self.path:
            where = "/".join(str(p) for p in self.path)
            if self.stage == RAW:
                where = f"{self.filename}:{self.line} {where}"
        note = "  [accepted]" if self.accepted else ""
        message = self.message if len(self.message) <= 240 else self.message[:237] + "..."
        return f"{self.stage:<10} {self.rule:<6} {self.severity:<8} {where}\n           {message}{note}"


@dataclass
class LintReport:
    """Findings of both passes, plus the translated template for further checks."""

    findings: list[Finding] = field(default_factory=list)
    translated: dict[str, Any] | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def unaccepted_warnings(self) -> list[Finding]:
        return [f for f in self.warnings if not f.accepted]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unaccepted_warnings

    def by_stage(self, stage: str) -> list[Finding]:
        return [f for f in self.findings if f.stage == stage]


class TranslationError(Exception):
    """The SAM translator rejected the template; ``causes`` lists its messages."""

    def __init__(self, causes: list[str]) -> None:
        super().__init__("; ".join(causes))
        self.causes = causes


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM template, keeping ``!Ref``/``!GetAtt``/``!Sub`` as intrinsic dicts."""
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text(encoding="utf-8"))


def translate(template: dict[str, Any], region: str = REGION) -> dict[str, Any]:
    """Translate SAM to plain CloudFormation offline; the input is not modified."""
    import boto3
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    tpl = copy.deepcopy(template)
    for resource in (tpl.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            value = props.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                props[key] = ARTIFACT_PLACEHOLDER
    metrics = Metrics()  # the translator's usage metrics; published to a no-op sink below
    translator = Translator(
        None, Parser(), boto_session=boto3.Session(region_name=region), metrics=metrics
    )
    try:
        return translator.translate(tpl, parameter_values={}, get_managed_policy_map=lambda: {})
    except InvalidDocumentException as exc:
        raise TranslationError([str(cause) for cause in exc.causes]) from exc
    finally:
        metrics.publish()


def _severity(rule_id: str) -> str:
    return {"E": "error", "W": "warning", "I": "informational"}.get(rule_id[:1], "error")


def run_cfn_lint(path: Path, stage: str, region: str = REGION) -> list[Finding]:
    """Run cfn-lint in-process on one file and flatten its matches."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(path, config=ManualArgs(regions=[region]))
    findings = []
    for m in matches:
        rule_id = str(getattr(m.rule, "id", "") or "E0000")
        findings.append(
            Finding(
                stage=stage,
                rule=rule_id,
                severity=_severity(rule_id),
                message=str(m.message),
                filename=str(m.filename or path),
                line=int(m.linenumber or 0),
                path=tuple(getattr(m, "path", ()) or ()),
            )
        )
    return findings


def lint_template(
    path: Path = TEMPLATE,
    region: str = REGION,
    stages: tuple[str, ...] = (RAW, TRANSLATED),
    keep: Path | None = None,
) -> LintReport:
    """Lint ``path`` as written and/or translated; never raises for a bad template."""
    report = LintReport()
    if RAW in stages:
        report.findings += run_cfn_lint(path, RAW, region)
    if TRANSLATED not in stages:
        return report
    try:
        report.translated = translate(load_template(path), region)
    except TranslationError as exc:
        report.findings += [
            Finding(TRANSLATED, "SAM", "error", cause, str(path), 0) for cause in exc.causes
        ]
        return report
    text = json.dumps(report.translated, indent=1, sort_keys=False)
    if keep is not None:
        keep.write_text(text, encoding="utf-8")
        report.findings += run_cfn_lint(keep, TRANSLATED, region)
        return report
    with tempfile.TemporaryDirectory(prefix="relayflow-lint-") as tmp:
        out = Path(tmp) / "template.translated.json"
        out.write_text(text, encoding="utf-8")
        report.findings += run_cfn_lint(out, TRANSLATED, region)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", nargs="?", type=Path, default=TEMPLATE)
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--keep", type=Path, help="also write the translated template here")
    args = parser.parse_args(argv)
    if not args.template.is_file():
        print(f"{args.template}: no such file", file=sys.stderr)
        return 2

    report = lint_template(args.template, args.region, keep=args.keep)
    for stage in (RAW, TRANSLATED):
        found = report.by_stage(stage)
        print(f"== cfn-lint ({stage}): {len(found)} finding(s)")
        for finding in found:
            print(finding)
    if report.translated is not None:
        kinds: dict[str, int] = {}
        for res in report.translated.get("Resources", {}).values():
            kinds[res["Type"]] = kinds.get(res["Type"], 0) + 1
        print(f"== translated: {sum(kinds.values())} resources")
        for kind, count in sorted(kinds.items()):
            print(f"   {count} x {kind}")
    print(
        f"== {len(report.errors)} error(s), {len(report.warnings)} warning(s) "
        f"({len(report.unaccepted_warnings)} not accepted)"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
