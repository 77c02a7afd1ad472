"""Rich progress bars for the long jobs (scan, hash, demo): imported only by the commands that draw them."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ncii_shield.cli.output import err_console


class RichProgress:
    def __init__(self, progress: Progress, label: str = "") -> None:
        self.progress = progress
        prefix = f"{label}: " if label else ""
        self.read_task = progress.add_task(f"{prefix}export read (%)", total=None)
        self.items_task = progress.add_task("messages", total=None)
        self.media_task = progress.add_task("media analysed", total=None)
        self.match_task: TaskID | None = None

    def position(self, done: int, total: int) -> None:
        self.progress.update(self.read_task, completed=100 * done // max(total, 1), total=100)

    def items(self, n: int) -> None:
        self.progress.advance(self.items_task, n)

    def media(self, n: int) -> None:
        self.progress.advance(self.media_task, n)

    def stage(self, name: str) -> None:
        if name == "matching":
            self.progress.update(self.read_task, completed=100, total=100)
            self.match_task = self.progress.add_task("matching against the case", total=1)
        elif name == "done" and self.match_task is not None:
            self.progress.update(self.match_task, completed=1)


class RateColumn(ProgressColumn):
    """Files or messages per second: the number that tells whether a big export will take minutes or hours."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="cyan")


def progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )
