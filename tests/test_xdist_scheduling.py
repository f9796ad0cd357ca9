"""The matrix's xdist scheduler (`harness.xdist_scheduling`) schedules exactly as xdist's own
LoadGroupScheduling does: the same groups to the same workers, the same indexes, the same
pending counts at every step, a crashed worker's work handed on; only faster. A worker keeps only
a tconv item's silent messages (`keep_worker_messages_lean`); what a user or a plugin could read
still goes."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("xdist")

from xdist.scheduler import LoadGroupScheduling  # noqa: E402

from harness.xdist_scheduling import CountingLoadGroupScheduling, keep_worker_messages_lean  # noqa: E402


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


class WorkerInteractor:
    """xdist's worker messenger as `keep_worker_messages_lean` finds it: `sendevent`, the index of
    the item running and the session's items."""

    def __init__(self, items: list[str]) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.item_index: int | None = None
        self.session = type("Session", (), {"items": items})()

    def sendevent(self, name: str, **kwargs: object) -> None:
        self.sent.append((name, kwargs))


def _worker_config(*plugins: object) -> object:
    """What `keep_worker_messages_lean` reads of a worker's config: the registered plugins."""
    manager = type("Manager", (), {"get_plugins": lambda self: list(plugins)})()
    return type("Config", (), {"pluginmanager": manager})()


def _report(when: str, outcome: str = "passed", *, longrepr: object = None, sections: list | None = None) -> dict:
    return {"when": when, "outcome": outcome, "longrepr": longrepr, "sections": sections or []}


def test_a_worker_keeps_only_a_lean_items_silent_messages() -> None:
    interactor = WorkerInteractor(["case[numpy.matrix]", "tests/test_x.py::test_x"])
    assert keep_worker_messages_lean(_worker_config(object(), interactor), lambda item: item.startswith("case"))
    messages = [("logstart", {}), ("testreport", {"data": _report("setup")}), ("testreport", {"data": _report("call")}),
                ("testreport", {"data": _report("teardown")}), ("logfinish", {}),
                ("runtest_protocol_complete", {"item_index": 0})]
    noisy = [("testreport", {"data": _report("setup", "failed", longrepr="boom")}),
             ("testreport", {"data": _report("setup", "skipped", longrepr=("f", 1, "why"))}),
             ("testreport", {"data": _report("teardown", sections=[("Captured stdout call", "hi")])})]
    for index in (0, 1):
        interactor.item_index = index
        for name, kwargs in messages + noisy:
            interactor.sendevent(name, **kwargs)
    lean = [(name, kwargs.get("data", {}).get("when")) for name, kwargs in interactor.sent[:6]]
    assert lean == [("testreport", "call"), ("logfinish", None), ("runtest_protocol_complete", None),
                    ("testreport", "setup"), ("testreport", "setup"), ("testreport", "teardown")]
    assert interactor.sent[6:] == [*messages, *noisy]  # another item's messages: every one
    interactor.item_index = None  # between items (collection, the session's end): everything goes
    interactor.sendevent("logstart", nodeid="x")
    assert interactor.sent[-1] == ("logstart", {"nodeid": "x"})


def test_without_xdists_messenger_nothing_is_changed() -> None:
    assert not keep_worker_messages_lean(_worker_config(object()), lambda item: True)


def test_a_verbose_run_keeps_the_logstart_that_prints_each_items_id() -> None:
    interactor = WorkerInteractor(["case[numpy.matrix]"])
    keep_worker_messages_lean(_worker_config(interactor), lambda item: True, keep_logstart=True)
    interactor.item_index = 0
    interactor.sendevent("logstart", nodeid="case[numpy.matrix]")
    interactor.sendevent("testreport", data=_report("setup"))
    assert interactor.sent == [("logstart", {"nodeid": "case[numpy.matrix]"})]
