"""The matrix's xdist scheduler (`harness.xdist_scheduling`) schedules exactly as xdist's own
LoadGroupScheduling does: the same groups to the same workers, the same indexes, the same
pending counts at every step, a crashed worker's work handed on; only faster."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("xdist")

from xdist.scheduler import LoadGroupScheduling  # noqa: E402

from harness.xdist_scheduling import CountingLoadGroupScheduling  # noqa: E402


class FakeNode:
    """What the scheduler asks of a worker: take indexes, shut down."""

    def __init__(self, name: str) -> None:
        self.name, self.sent, self.shutting_down = name, [], False
        self.gateway = type("Gateway", (), {"id": name})()

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(list(indexes))

    def shutdown(self) -> None:
        self.shutting_down = True


def _collection(seed: int) -> list[str]:
    draw = random.Random(seed)
    items = [f"tests/test_{i % 7}.py::test_{i}" for i in range(draw.randint(5, 40))]
    for group in range(draw.randint(1, 6)):
        items += [f"cases/c.yaml::case{j}[adapter{group}]@adapter{group}" for j in range(draw.randint(1, 30))]
    draw.shuffle(items)
    return items


def _config():  # noqa: ANN202
    option = type("Option", (), {"loadscopereorder": True, "maxschedchunk": None})()
    values = {"tx": ["2*popen"]}  # two workers, as `-n 2` gives
    return type("Config", (), {"option": option, "getvalue": lambda self, name: values.get(name)})()


@pytest.mark.parametrize("seed", range(12))
def test_the_same_schedule_as_xdists_own_at_every_step(seed: int) -> None:
    collection = _collection(seed)
    runs = []
    for cls in (LoadGroupScheduling, CountingLoadGroupScheduling):
        scheduler = cls(_config())
        nodes = [FakeNode("gw0"), FakeNode("gw1")]
        for node in nodes:
            scheduler.add_node(node)
            scheduler.add_node_collection(node, collection)
        scheduler.schedule()
        draw, trace = random.Random(seed), []
        crash_at = draw.randint(0, len(collection) // 2) if seed % 3 == 0 else None
        steps = 0
        while scheduler.has_pending:
            node = draw.choice([n for n in nodes if n in scheduler.assigned_work])
            pending = [i for batch in node.sent for i in batch]
            done = {collection.index(n) for units in scheduler.assigned_work[node].values()
                    for n, finished in units.items() if finished}
            left = [i for i in pending if i not in done]
            if steps == crash_at and len(nodes) > 1:
                trace.append(("crash", node.name, scheduler.remove_node(node)))
                nodes.remove(node)
            elif left:
                scheduler.mark_test_complete(node, left[0])
            trace.append((node.name, [len(b) for b in node.sent], scheduler.tests_finished,
                          *(LoadGroupScheduling._pending_of(scheduler, scheduler.assigned_work[n]) for n in nodes)))
            if isinstance(scheduler, CountingLoadGroupScheduling):  # its own count equals a recount
                assert [scheduler._pending_of(scheduler.assigned_work[n]) for n in nodes] == list(trace[-1][3:])
            steps += 1
            assert steps < 10 * len(collection)
        runs.append((trace, [n.sent for n in nodes]))
    assert runs[0] == runs[1]
    assert sorted(i for batches in runs[1][1] for batch in batches for i in batch) \
        == sorted(set(i for batches in runs[1][1] for batch in batches for i in batch))


GROUPED = '''
import pytest

@pytest.mark.xdist_group("first")
@pytest.mark.parametrize("i", range(6))
def test_first(i):
    pass

@pytest.mark.xdist_group(name="second")
@pytest.mark.parametrize("i", range(6))
def test_second(i):
    pass

@pytest.mark.parametrize("i", range(4))
def test_free(i):
    pass
'''


def test_loadgroup_keeps_each_group_on_one_worker(tmp_path) -> None:
    """pytest-xdist #1386's reproducer: on pytest 9.2 xdist's own `@group` suffix is lost and the
    groups spread over the workers; in a session tconv's plugin is part of (here a one-case matrix
    beside the tests), each group runs on one worker."""
    import re

    from tests.conftest import child_pytest

    (tmp_path / "test_grouped.py").write_text(GROUPED, encoding="utf-8")
    (tmp_path / "one.yaml").write_text("cases:\n  - {id: one, input_size: [2, 2], kernel_size: 2}\n", encoding="utf-8")
    done = child_pytest(tmp_path, "-n", "2", "--dist", "loadgroup", "-v", "test_grouped.py", "--tconv", "one.yaml",
                     "--tconv-frameworks", "numpy")
    assert done.returncode == 0, done.stdout[-2000:]
    ran = re.findall(r"^\[(gw\d)\] .* PASSED test_grouped.py::(test_\w+)\[\d\](@\w+)?", done.stdout, re.MULTILINE)
    assert len(ran) == 16, done.stdout[-2000:]
    for group in ("first", "second"):
        workers = {worker for worker, test, suffix in ran if test == f"test_{group}"}
        assert len(workers) == 1, f"group {group} ran on {sorted(workers)}"
        assert all(suffix == f"@{group}" for _, test, suffix in ran if test == f"test_{group}")
