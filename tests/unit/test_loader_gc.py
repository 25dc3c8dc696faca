"""The loader pauses the cyclic collector and hands what it built to the oldest generation."""
from __future__ import annotations

import gc

from relayflow.core.loader import load_text

TASKS = 300
WORKFLOW = "name: many\ntasks:\n" + "".join(
    f"  - name: t{i}\n    action: core.echo\n    input: {{i: {i}}}\n" + (f"    on_success: t{i + 1}\n" if i + 1 < TASKS else "")
    for i in range(TASKS))


def test_a_load_hands_what_it_built_to_the_oldest_generation() -> None:
    gc.collect()
    spec = load_text(WORKFLOW)
    assert len(spec.tasks) == TASKS and gc.isenabled()
    # not walked by the young collections: the task records went straight to the oldest generation
    young = gc.get_objects(generation=0) + gc.get_objects(generation=1)
    assert not any(type(o).__name__ == "TaskSpec" for o in young)
    assert sum(type(o).__name__ == "TaskSpec" for o in gc.get_objects(generation=2)) >= TASKS


def test_a_load_keeps_what_the_process_froze_frozen() -> None:
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        spec = load_text(WORKFLOW)
        assert gc.get_freeze_count() == frozen and len(spec.tasks) == TASKS
    finally:
        gc.unfreeze()


def test_a_load_with_the_collector_off_leaves_it_off() -> None:
    gc.disable()
    try:
        load_text(WORKFLOW)
        assert not gc.isenabled()
    finally:
        gc.enable()
