"""The progress display of a load or a check, with the time spent in each phase.

Shared by `pipelines.load` and `pipelines.checks`. Warnings are said once, on standard error (with the
progress bar, or on their own with `--quiet`), never again in the summary.
"""

from __future__ import annotations

import os
import sys
import time

#: Test-only: a load started with `ROSC_LOAD_PAUSE_AT=<point>` stops at that point, says so on stderr
#: and waits to be killed (tests/reliability/test_atomicity.py). Points: each phase of the progress
#: display as it starts (reading, copying, checking, writing, building, saving), `swap` just before
#: the new file is renamed over the live one and `swapped` just after.
PAUSE_ENV = "ROSC_LOAD_PAUSE_AT"


class Progress:
    """A rich progress bar over the load's steps, or nothing when quiet."""

    def __init__(self, quiet: bool, console, total: int, *, warn_quietly: bool = False) -> None:
        self._progress = None
        self._warn_quietly = warn_quietly
        self._console = console
        self.timings: dict[str, float] = {}
        self._phase: str | None = None
        self._since = time.perf_counter()
        if not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._console = console or Console(stderr=True)
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<40}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=False,
            )
            self._task = self._progress.add_task("loading", total=total)

    def __enter__(self) -> Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._clock(None)
        if self._progress is not None:
            self._progress.stop()

    def _clock(self, phase: str | None) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.timings[self._phase] = self.timings.get(self._phase, 0.0) + now - self._since
        self._phase, self._since = phase, now

    def step(self, description: str) -> None:
        """Start a step; its time is added to the phase named by the description's first word."""
        pause_point(description.split()[0])
        self._clock(description.split()[0])
        if self._progress is not None:
            self._progress.update(self._task, description=description)

    def done(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def warn(self, message: str) -> None:
        """Say `message` once, on standard error, whether or not the progress bar is shown."""
        if self._progress is not None:
            from rich.text import Text

            # A Text, not markup: messages quote profile settings such as [tables.people.values.sex].
            self._progress.console.print(
                Text.assemble(("warning: ", "yellow"), message), highlight=False, soft_wrap=True
            )
        elif self._warn_quietly:
            sys.stderr.write(f"warning: {message}\n")


def pause_point(point: str) -> None:
    """Wait here forever when the test-only PAUSE_ENV names `point` (see PAUSE_ENV)."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    sys.stderr.write(f"load paused at {point}\n")
    sys.stderr.flush()
    while True:
        time.sleep(60)
