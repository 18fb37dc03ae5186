"""The engine: programs of generator threads, executions as graphs, models by name.

Nothing in this package knows about the kernel or about litmus syntax.  What
other packages may use is exported here (``__all__``); every other module of
``pinlab.engine`` is private to it, and a test checks that ``kernel``,
``litmus``, ``scenarios`` and ``report`` import only these names.

Programs
    :class:`Program` bundles threads (:class:`ThreadFactory`: generator
    functions that yield operations), initial memory (:class:`Loc` to
    value) and a final-state :class:`Condition` (a :class:`CondKind` over
    :class:`Observable` terms: :class:`RegVar`, :class:`MemVar`) on the
    :class:`FinalState`; :class:`Oops` is a thread's way to report a kernel
    BUG.
Operations
    :mod:`ops <pinlab.engine.ops>` holds the operations a thread yields
    (:class:`Op`: :class:`Load`, :class:`Store`, :class:`Rmw`,
    :class:`Fence`, :class:`Lock`, :class:`TryLock`, :class:`IsLocked`,
    :class:`Unlock`, :class:`SrcuSync`, :class:`Choose`, :class:`Assume`,
    :class:`Cutoff`; a :class:`Tag` gives an access its ordering);
    :mod:`kapi <pinlab.engine.kapi>` the kernel's memory API built on them
    (``READ_ONCE``, ``atomic_add_return``, ``spin_lock``, ...), and
    :data:`PRIMITIVES` the same as :class:`Primitive` entries by the names
    litmus tests use.
Values
    A thread receives loaded values as :class:`Val`, which carry the loads
    they depend on; :func:`unwrap` gives the plain value, and
    :func:`ctrl_mark` / :func:`ctrl_restore` (a :class:`CtrlMark`) say where
    a branch's effect on control dependencies ends.
Models
    :class:`Model` (named axioms over an execution graph) and
    :func:`get_model` (``"sc"``, ``"lkmm"``).
Deciding
    :func:`decide` is the one entry point: every consistent execution of a
    program under a model, by a decision procedure (:data:`ENGINES`; a
    procedure implements :class:`Procedure`), within :class:`Limits`,
    summarised as a frozen :class:`ExplorationResult` whose
    :class:`Outcome` says whether it saw everything (its counts in
    :class:`Stats`).  Each execution reaches
    an ``on_execution`` callback as an :class:`Execution`.  :func:`replay`
    runs the one execution a choice list names (:class:`ReplayError` when
    it does not fit), and :func:`witness_choices` finds the choice list of
    an execution another procedure found.  :func:`explore` is the waiting
    explorer itself, which can explore one :class:`Subtree` of the whole, and
    :class:`RevisitExplorer` the revisit explorer, which can explore one
    :class:`Share` (how pinlab.parallel splits an exploration); both tell a
    :class:`Progress` hook the executions met so far.  :func:`follow` finds an
    execution that runs through a path of another program (each thread's
    accesses as :class:`PathStep` entries, from :func:`path_of` of a
    graph): a race's path asked again of the fixed code.  :func:`explore_factored` counts
    the accesses of observer locations (each a :class:`Site`) in product
    form (litmus tests), declining (:class:`Declined`) where it does not
    apply.
Graphs
    :class:`ExecutionGraph` of :class:`Event` (kinds :class:`EvKind`).
Sequential runs
    :class:`SequentialExecutor` runs threads one after another on a
    :class:`Memory`: the kernel model's setup and selftests.
"""

from __future__ import annotations

from pinlab.engine import kapi, ops
from pinlab.engine.decide import ENGINES, Procedure, decide, replay
from pinlab.engine.explore import (
    Execution,
    ExplorationResult,
    Limits,
    Outcome,
    Progress,
    ReplayError,
    Share,
    Stats,
    Subtree,
    explore,
)
from pinlab.engine.factor import Declined, Site, explore_factored
from pinlab.engine.follow import PathStep, follow, path_of
from pinlab.engine.graph import Event, EvKind, ExecutionGraph
from pinlab.engine.guide import choices_for as witness_choices
from pinlab.engine.models import Model, get_model
from pinlab.engine.ops import (
    Assume,
    Choose,
    Cutoff,
    Fence,
    IsLocked,
    Load,
    Lock,
    Op,
    Rmw,
    SrcuSync,
    Store,
    Tag,
    TryLock,
    Unlock,
)
from pinlab.engine.primitives import PRIMITIVES, Primitive
from pinlab.engine.program import (
    Condition,
    CondKind,
    FinalState,
    Loc,
    MemVar,
    Observable,
    Oops,
    Program,
    RegVar,
    ThreadFactory,
)
from pinlab.engine.revisit import RevisitExplorer
from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.engine.values import CtrlMark, Val, ctrl_mark, ctrl_restore, unwrap

__all__ = [
    "ENGINES",
    "PRIMITIVES",
    "Assume",
    "Choose",
    "CondKind",
    "Condition",
    "CtrlMark",
    "Cutoff",
    "Declined",
    "EvKind",
    "Event",
    "Execution",
    "ExecutionGraph",
    "ExplorationResult",
    "Fence",
    "FinalState",
    "IsLocked",
    "Limits",
    "Load",
    "Loc",
    "Lock",
    "MemVar",
    "Memory",
    "Model",
    "Observable",
    "Oops",
    "Op",
    "Outcome",
    "PathStep",
    "Primitive",
    "Procedure",
    "Program",
    "Progress",
    "RegVar",
    "ReplayError",
    "RevisitExplorer",
    "Rmw",
    "SequentialExecutor",
    "Share",
    "Site",
    "SrcuSync",
    "Stats",
    "Store",
    "Subtree",
    "Tag",
    "ThreadFactory",
    "TryLock",
    "Unlock",
    "Val",
    "ctrl_mark",
    "ctrl_restore",
    "decide",
    "explore",
    "explore_factored",
    "follow",
    "get_model",
    "kapi",
    "ops",
    "path_of",
    "replay",
    "unwrap",
    "witness_choices",
]
