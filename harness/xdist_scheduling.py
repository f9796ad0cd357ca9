"""`--dist loadgroup` without its quadratic bookkeeping, for a matrix of twenty thousand items.

pytest-xdist's LoadScope/LoadGroup scheduler (3.8.0, the newest) counts a worker's pending items
by walking every item ever assigned to it, on every finished item, and finds each item's index by
a linear search of the whole collection: quadratic in the items (pytest-xdist issue #279, open
since 2018). With this project's 20,000 matrix items the controller spent more CPU on that than
the two workers spent on the rows, and `pytest -n 2` of the matrix took 383 s where `-p no:xdist`
took 206 s (AVX2 EPYC, 2 cores). This scheduler is the same one, groups and order unchanged, with
the pending count kept as a number per worker and the indexes looked up in a dict; the plugin
hands it to xdist through xdist's own hook (`pytest_xdist_make_scheduler`) when `--dist loadgroup`.

`--dist loadgroup` also stopped grouping on pytest 9.2: xdist (3.8.0) tells the scheduler an
item's group by appending `@group` to its node id in the worker, and writes the old `_nodeid`
field, which pytest 9.2's structured node ids (`_id`) no longer read. Nothing fails: the groups are
simply spread over the workers (pytest-xdist issue #1386, open; the fix, PR #1388, is not
released). `group_node_ids` writes the suffix where pytest 9.2 keeps the id.

Each item a worker runs costs six messages to the controller (logstart, three phase reports,
logfinish, protocol complete), each serialized by execnet in Python, written and flushed on its
own, and decoded and dispatched through the hooks on the other side. A tconv item has no fixtures:
its setup and teardown pass with nothing to say, and its row travels in the call report.
`keep_worker_messages_lean` keeps those two reports and, unless the run is verbose (`-v` prints
each item's id as it starts), the logstart in the worker; logfinish (the progress percentage) and every report
that failed, was skipped or captured output still go. The built-in matrix under `-n 2`, warm,
alternating runs with the ini's `tconv_lean_xdist` off and on: 40.1 / 40.4 s -> 36.5 / 37.2 s, user
CPU 67 -> 61 s (Xeon, 2 cores).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdist.scheduler import LoadGroupScheduling


def group_node_ids(items: list[Any]) -> int:
    """Append `@<group>` to the node id of each item with an `xdist_group` mark where xdist's own
    suffix did not take (pytest's structured `_id`); returns how many it changed."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest: xdist's own `_nodeid` suffix works there
        return 0
    changed = 0
    for item in items:
        groups = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                  for mark in item.iter_markers("xdist_group")}
        suffix = "@" + "_".join(sorted(groups))
        if groups and isinstance(getattr(item, "_id", None), NodeId) and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)
            changed += 1
    return changed


class CountingLoadGroupScheduling(LoadGroupScheduling):
    """LoadGroupScheduling with O(1) pending counts and O(1) index lookups."""

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        self._pending: dict[int, int] = {}  # id(a worker's workload dict) -> its items not yet done
        self._positions: dict[Any, dict[str, int]] = {}  # worker -> nodeid -> index in its collection

    def _pending_of(self, workload: dict[str, dict[str, bool]]) -> int:
        return self._pending.get(id(workload), 0)

    def _assign_work_unit(self, node: Any) -> None:
        scope, work_unit = self.workqueue.popitem(last=False)
        assigned = self.assigned_work.setdefault(node, {})
        assigned[scope] = work_unit
        positions = self._positions.get(node)
        if positions is None:
            positions = {nodeid: i for i, nodeid in reversed(list(enumerate(self.registered_collections[node])))}
            self._positions[node] = positions
        indexes = [positions[nodeid] for nodeid, completed in work_unit.items() if not completed]
        self._pending[id(assigned)] = self._pending.get(id(assigned), 0) + len(indexes)
        node.send_runtest_some(indexes)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        nodeid = self.registered_collections[node][item_index]
        workload = self.assigned_work[node]
        if not workload[self._split_scope(nodeid)][nodeid]:
            self._pending[id(workload)] -= 1
        super().mark_test_complete(node, item_index, duration)

    def remove_node(self, node: Any) -> str | None:
        workload = self.assigned_work.get(node)
        crashed = super().remove_node(node)  # re-queues the unfinished units: they are counted again when assigned
        if workload is not None:
            self._pending.pop(id(workload), None)
        self._positions.pop(node, None)
        return crashed


def keep_worker_messages_lean(config: Any, lean: Callable[[Any], bool], *, keep_logstart: bool = False) -> bool:
    """In an xdist worker, send no passing, silent setup or teardown report, and no logstart unless
    `keep_logstart` (a verbose run prints each item's id as it starts), for the items `lean` picks
    (see the module docstring); returns whether xdist's worker messenger was found. The controller's
    terminal output is the same, line for line."""
    interactor = next((p for p in config.pluginmanager.get_plugins()
                       if type(p).__name__ == "WorkerInteractor" and hasattr(p, "sendevent")), None)
    if interactor is None:
        return False
    send = interactor.sendevent

    def unread(name: str, kwargs: dict[str, Any]) -> bool:
        index, session = getattr(interactor, "item_index", None), getattr(interactor, "session", None)
        if not isinstance(index, int) or session is None or not lean(session.items[index]):
            return False
        if name == "logstart":
            return not keep_logstart
        data = kwargs.get("data") if name == "testreport" else None
        return (isinstance(data, dict) and data.get("when") in ("setup", "teardown")
                and data.get("outcome") == "passed" and data.get("longrepr") is None and not data.get("sections"))

    def sendevent(name: str, **kwargs: Any) -> None:
        if not unread(name, kwargs):
            send(name, **kwargs)

    interactor.sendevent = sendevent
    return True
