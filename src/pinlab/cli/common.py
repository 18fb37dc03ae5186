"""What the commands share: options, the checks that refuse bad arguments, output."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from pinlab.engine import get_model

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from pinlab.parallel import OnProgress
    from pinlab.scenarios import Scenario

T = TypeVar("T")
EraOpt = Annotated[
    str | None, typer.Option("--era", help="An era (v5.9, current, ...) or a variant name.")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Memory model: sc or lkmm.")]
TimeOpt = Annotated[
    float | None,
    typer.Option("--time-limit", help="Stop each exploration after S seconds."),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="Worker processes (default: $PINLAB_JOBS, else the number of cores; 1 runs "
        "everything in this process).",
    ),
]
RayOpt = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="ADDRESS",
        help="Run the workers on a Ray cluster: its address (host:6379, ray://host:10001), "
        "auto (the cluster this machine joined with ray start), or local (a Ray instance "
        "for this run alone). --jobs then counts Ray workers (default: the cluster's CPUs). "
        "Needs the extra: pip install -e '.\\[ray]'.",  # (\\[: not rich markup)
    ),
]
CatOpt = Annotated[
    Path | None,
    typer.Option(
        "--cat",
        metavar="FILE",
        help="The memory model of a herd cat file (or a herd7 .cfg naming one), read at run "
        "time, e.g. tools/memory-model/linux-kernel.cat from a kernel tree; it replaces "
        "the LKMM (docs/models.md).",
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Decision procedure: auto (revisit, falling back to explore where it cannot "
        "vouch for completeness), revisit, or explore (the waiting explorer).",
    ),
]


def _jobs(command: str, jobs: int | None) -> int:
    """``--jobs``, or its default: $PINLAB_JOBS, else the cores this process may use."""
    from pinlab.parallel import cores

    if jobs is None:
        env = os.environ.get("PINLAB_JOBS", "")
        if not env:
            return cores()
        if not env.isdigit() or int(env) < 1:
            raise _fail(command, f"PINLAB_JOBS must be a number of processes, not {env!r}")
        return int(env)
    if jobs < 1:
        raise _fail(command, "--jobs must be at least 1")
    return jobs


@contextmanager
def _workers(command: str, jobs: int | None, ray: str | None) -> Iterator[int]:
    """The number of workers for ``--jobs`` and ``--ray``, with the Ray
    cluster connected (where ``--ray`` is given) for the length of the block."""
    if ray is None:
        yield _jobs(command, jobs)
        return
    from pinlab.parallel import RayError, ray_cluster

    given = jobs is not None or bool(os.environ.get("PINLAB_JOBS"))
    count = _jobs(command, jobs) if given or ray == "local" else None
    try:
        with ray_cluster(ray, cpus=count) as cluster:
            yield count if count is not None else cluster.cpus()
    except RayError as err:
        raise _fail(command, str(err)) from None


def _cat_model(command: str, path: Path, model: str | None = None) -> str:
    """Load the model of ``--cat``, known from now on by the name it returns.
    For the scenario commands, which give ``model``: it stands for the LKMM,
    so any other ``--model`` is refused."""
    from pinlab.cat import CatError, load_cat
    from pinlab.engine.models import register

    if model not in (None, "lkmm"):
        raise _fail(command, f"--cat runs the scenarios checked under lkmm, not --model {model}")
    try:
        loaded = load_cat(path)
    except CatError as err:
        raise _fail(command, str(err)) from None
    register(loaded)
    return loaded.name


def _check_engine(command: str, engine: str) -> None:
    from pinlab.engine import ENGINES

    if engine not in ENGINES:
        raise _fail(command, f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


def _fail(command: str, message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"pinlab {command}: {message}", err=True)
    return typer.Exit(code)


def _check_time_limit(command: str, seconds: float | None) -> None:
    """Every command refuses the same nonsense limits (0, negative, nan, inf): exit 2."""
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise _fail(command, f"--time-limit must be a positive number of seconds, not {seconds}")


def _check_options(
    command: str, era: str | None, model: str | None, pool: Sequence[Scenario] | None = None
) -> None:
    """Unknown model or era names: exit 2 with one line, before any work.  The
    variants known are ``pool``'s (the catalogue's when None)."""
    from pinlab.kernel.eras import ERAS
    from pinlab.scenarios import catalogue

    if model is not None:
        try:
            get_model(model)
        except ValueError as err:
            raise _fail(command, str(err)) from None
    if era is not None:
        scenarios = catalogue() if pool is None else pool
        known = {e.name for e in ERAS} | {s.variant for s in scenarios}
        if era not in known:
            eras = ", ".join(e.name for e in ERAS)
            raise _fail(command, f"unknown era or variant {era!r} (eras: {eras})")


def _scenario_pool(command: str, names: Sequence[str]) -> tuple[list[str], list[Scenario] | None]:
    """The scenario names of the command line, and the pool to find them in: the
    catalogue (None), or the scenarios of the files among ``names`` (``./race.py``;
    a catalogue name given with them is looked up in the catalogue too).  A
    broken file: exit 2 with its ``file:line: what`` message."""
    from pinlab.scenarios import catalogue
    from pinlab.scenarios.files import ScenarioFileError, is_scenario_file, load

    files = [n for n in names if is_scenario_file(n)]
    if not files:
        return list(names), None
    pool: list[Scenario] = []
    wanted: list[str] = []
    try:
        for f in files:
            loaded = load(f)
            pool.extend(loaded)
            wanted.extend(dict.fromkeys(s.name for s in loaded))
    except ScenarioFileError as err:
        raise _fail(command, str(err)) from None
    rest = [n for n in names if not is_scenario_file(n)]
    if rest:
        pool.extend(s for s in catalogue() if s.name in rest)
        wanted.extend(rest)
    return wanted, pool


WidthOpt = Annotated[
    int | None,
    typer.Option(
        "--width",
        help="Fit the output to N columns (at least 40): tables and traces wrap at word "
        "boundaries, nothing is cut.  Default: the terminal's width; 80 into a pipe or file.",
    ),
]
MIN_WIDTH = 40
PIPE_WIDTH = 80


def _check_width(command: str, width: int | None) -> None:
    if width is not None and width < MIN_WIDTH:
        raise _fail(command, f"--width must be at least {MIN_WIDTH}, not {width}")


def _console(width: int | None = None, plain: bool = False) -> Console:
    """Rich output.  On a terminal: its width (or ``width``) and colour.  Into a
    pipe or a file, or ``plain``: ``width`` or 80 columns and no colour or other
    escape codes, text to paste into a mail as it is."""
    from rich.console import Console

    console = Console(highlight=False, width=width)
    if plain or not console.is_terminal:
        console = Console(highlight=False, width=width or PIPE_WIDTH, color_system=None,
                          no_color=True)  # fmt: skip
    return console


@contextmanager
def _progress(console: Console, total: int, enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[executions]}"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


def _count_executions(progress: Progress | None, task: Any) -> OnProgress | None:
    """What shows, in ``progress``'s line, the executions explored so far (as
    the explorers, or the parallel workers, report them)."""
    if progress is None:
        return None

    def show(n: int) -> None:
        progress.update(task, executions=f"{n:,} executions")

    return show


def _shown(items: Iterator[T], names: Sequence[str], console: Console) -> Iterator[T]:
    """``items`` as they come, one per name of ``names``.  On a terminal, while
    each is awaited, a transient progress line (how many done of how many, the
    name awaited), erased before the item is handed on: what the caller prints
    between items lands as it would without it.  Not on a terminal: nothing."""
    if not console.is_terminal:
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    progress = Progress(*columns, console=console, transient=True, redirect_stdout=False,
                        redirect_stderr=False)  # fmt: skip
    task = progress.add_task("", total=len(names))
    for done, name in enumerate(names):
        progress.update(task, description=name, completed=done)
        progress.start()
        try:
            item = next(items)
        except StopIteration:
            return
        finally:
            progress.stop()
        yield item


def _check_writable(command: str, *paths: Path | None) -> None:
    """Output files that cannot be written: exit 2 with one line, before any work.

    Opening is the one sure test (permissions, a read-only filesystem, a missing
    or non-directory parent, a directory in the way): a file that exists is opened
    for appending and left as it is; a new one is created and removed again.  A
    FIFO or a device (``/dev/stdout``) is left to the write itself.
    """
    for path in paths:
        if path is None or (path.exists() and not (path.is_file() or path.is_dir())):
            continue
        existed = path.exists()
        try:
            flags = os.O_WRONLY | (os.O_APPEND if existed else os.O_CREAT | os.O_EXCL)
            os.close(os.open(path, flags, 0o644))
            if not existed:
                path.unlink()
        except OSError as err:
            raise _fail(command, f"cannot write {path}: {err.strerror}") from None
