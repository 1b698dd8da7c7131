"""What a Dockerfile check receives besides the model, and helpers to locate hits."""
from __future__ import annotations

from ..records import record

from ..config import Config
from ..dockerfile.model import DockerfileModel, Stage
from ..dockerfile.parse import Instruction
from ..findings import Fix, Severity
from .registry import Hit


@record
class CheckContext:
    model: DockerfileModel
    config: Config
    context_dir: str | None  # the build context, for reading certificate files

    def hit(self, rule: str, message: str, inst: Instruction, start: int | None = None, end: int | None = None,
            stage: Stage | None = None, severity: Severity | None = None, fix: Fix | None = None,
            whole_instruction: bool = False, **properties) -> Hit:
        """A hit on an instruction; with start/end (source offsets) the columns point at that text.

        The line range spans the offending text's lines (a heredoc line inside an instruction
        reports that line), or the whole instruction.
        """
        pos = self.model.position
        if start is not None and not whole_instruction:
            line, col = pos(start)
            end_line, end_col = pos(max(end or start + 1, start + 1))
        else:
            line, col = inst.line, 1
            last = self.model.parsed.line_text(inst.end_line)
            end_line, end_col = inst.end_line, len(last) + 1
        return Hit(rule, message, line, end_line, col, end_col, stage.label if stage else None, severity, fix, properties)


def scope_severity(model: DockerfileModel, stage: Stage, persistent: bool) -> Severity:
    """Severity by scope: a persistent setting in the shipped image is an error; in a builder
    stage, or a one-off on one command, a warning."""
    if persistent and model.is_shipped(stage):
        return Severity.ERROR
    return Severity.WARNING
