"""Following a finished run's transitions, and failures fed only into joins (LANGUAGE §3.5)."""
from __future__ import annotations

from typing import Any

from ..errors import TemplateError
from ..records import TaskRun
from ..spec import FAIL, NOOP, Branch, Transition
from ..status import (
    RunStatus,
)
from .runs import RunSteps


class TransitionSteps(RunSteps):
    # -- following transitions ---------------------------------------------------------------
    def follow(self, run: TaskRun) -> None:
        run.followed = True
        self._following = run  # the run whose decisions ``decide`` reports to the listener
        task = self.spec.tasks[run.task]
        ctx = self.context(current=run)
        if run.status == RunStatus.SUCCEEDED and not self.publish(run, task.publish, ctx, "publish"):
            return
        # (entry, its name for the listener, the tasks it fires, its noop / fail commands)
        fired: list[tuple[Transition, str, tuple[str, ...], frozenset[str]]] = []
        for tr in task.next:
            if tr.outcomes is not None and run.status not in tr.outcomes:
                continue
            try:
                if tr.decision is not None:
                    chosen = self.decide(tr, ctx)
                    if chosen is not None:
                        fired.append((tr, f"{tr.origin}[{tr.decision.index(chosen)}]", chosen.do, chosen.commands))
                    continue
                if tr.when is not None and not self.guard(run, f"{tr.origin}.when", tr.when, ctx):
                    continue
            except TemplateError as exc:
                return self.authoring_error(run, f"{tr.origin}.when", getattr(exc, "expr", tr.when), exc)
            fired.append((tr, tr.origin, tr.do, tr.commands))
        for tr, _, _, _ in fired:
            if tr.publish and not self.publish(run, tr.publish, ctx, f"{tr.origin}.publish"):
                return
        failed = run.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
        error = run.error or {}
        told_to_fail = next((tr for tr, _, _, commands in fired if FAIL in commands), None)
        if told_to_fail is not None:
            for _, entry, _, commands in fired:
                if FAIL in commands:
                    self.listener.transition_taken(run, entry, FAIL, ())
            why = f": {error.get('message', run.status)}" if failed else ""
            self.fail_workflow({"task": run.task, "type": "Failed",
                                "message": f"task {run.task} {run.status}{why}; its {told_to_fail.origin} "
                                           f"says 'do: fail'"})
            return
        targets = [name for _, _, do, _ in fired for name in do]
        noop = any(NOOP in commands for _, _, _, commands in fired)
        if failed and not targets and not noop:
            return self.unhandled(run)
        run.handled = failed
        for _, entry, do, commands in fired:
            if do or NOOP in commands:
                self.listener.transition_taken(run, entry, "do" if do else NOOP, do)
            for name in do:
                self.fire_into(name, run.task)
        if failed and not noop and all(self.spec.tasks[n].join is not None for n in targets):
            self.hang_on_joins(run, targets)

    def unhandled(self, run: TaskRun) -> None:
        run.handled = False
        error = run.error or {}
        self.fail_workflow({"task": run.task, "type": error.get("type", "Error"),
                            "message": error.get("message", f"task {run.task} {run.status}")})

    # -- a failure fed only into joins -------------------------------------------------------
    def join_fate(self, name: str) -> str:
        """``ran`` (satisfied), ``dead`` (ended skipped, never satisfied) or ``waiting``."""
        state = self.session.task_state(name)
        if not state.join_done:
            return "waiting"
        latest = self.session.run(name, state.runs) if state.runs else None
        if latest is not None and latest.status == RunStatus.SKIPPED and (latest.error or {}).get("type") == "JoinNotSatisfied":
            return "dead"
        return "ran"

    def hang_on_joins(self, run: TaskRun, joins: list[str]) -> None:
        """A failure whose entries fired only into joins is handled only if one of them runs."""
        names = list(dict.fromkeys(joins))
        fates = {n: self.join_fate(n) for n in names}
        if "ran" in fates.values():
            return
        if all(f == "dead" for f in fates.values()):
            return self.unhandled(run)
        run.handled = False
        run.fed_joins = names
        for n in names:
            if fates[n] == "waiting":
                self.session.task_state(n).failed_feeders.append([run.task, run.run])

    def settle_feeders(self, join: str, ran: bool) -> None:
        """``join`` was satisfied (``ran``) or will never be: decide the failures that fed only joins."""
        state = self.session.task_state(join)
        feeders, state.failed_feeders = state.failed_feeders, []
        for task, number in feeders:
            run = self.session.run(task, number)
            if run is None or not run.fed_joins or run.handled:
                continue
            if ran:
                run.handled, run.fed_joins = True, []
            elif all(n == join or self.join_fate(n) == "dead" for n in run.fed_joins):
                run.fed_joins = []
                self.unhandled(run)

    # -- decisions and publish ---------------------------------------------------------------
    def decide(self, tr: Transition, ctx: dict[str, Any]) -> Branch | None:
        """The first matching branch; a ``default`` branch only when no other matched."""
        default = None
        run = self._following
        for i, branch in enumerate(tr.decision or ()):
            if branch.default and branch.when is None:
                default = branch
                continue
            try:
                value = self.condition(branch.when, ctx)
                if run is not None:
                    self.listener.guard_evaluated(run, f"{tr.origin}[{i}].when", branch.when, value)
                if value:
                    return branch
            except TemplateError as exc:
                exc.expr = branch.when  # type: ignore[attr-defined]
                raise
            if branch.default:
                default = branch
        return default

    def publish(self, run: TaskRun, pairs: tuple[tuple[str, Any], ...], ctx: dict[str, Any], where: str) -> bool:
        for name, template in pairs:
            try:
                value = self.render(template, ctx)
            except TemplateError as exc:
                self.authoring_error(run, f"{where}.{name}", template, exc)
                return False
            self.session.set_var(name, value)
        return True
