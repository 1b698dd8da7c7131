"""A CA placed in the family's anchor directory must be followed by the family's update command."""
from __future__ import annotations

from ...findings import Severity
from ...fixes import builders as fixes
from ..registry import check
from .common import INSTALL_VERBS, anchor_target, is_package_op, ordered_steps, stage_facts, stage_family


def registers_trust(stage, cmd, facts) -> bool:
    """Does this command regenerate the system trust store?"""
    update = facts.get("update_command")
    if update and cmd.name == update:
        return True
    if cmd.name == "update-ca-trust" and update == "update-ca-trust":
        return True
    if cmd.name == "trust" and any(w.value in ("anchor", "extract-compat") for w in cmd.args):
        return True
    # Installing the ca-certificates package runs its trigger, which regenerates the bundle, but only
    # when the package was absent before (trust-stores.md A3, D11).
    if stage.image.get("ca_tool") is False and is_package_op(cmd, INSTALL_VERBS, facts.get("ca_package", "ca-certificates")):
        return True
    return False


def unregistered_anchor_ops(model, stage):
    """(last op, paths) when anchors are added in `stage` and no update follows in it or a stage built FROM it."""
    facts = stage_facts(stage)
    if not facts.get("anchor_dirs"):
        return None
    last = None
    paths: list[str] = []
    registered_after = False
    for _offset, item in ordered_steps(stage):
        if isinstance(item, tuple):
            _run, cmd = item
            if last is not None and registers_trust(stage, cmd, facts):
                registered_after = True
            continue
        targets = anchor_target(stage, item)
        if targets and item.kind != "delete":
            last = item
            paths = targets
            registered_after = False
    if last is None or registered_after:
        return None
    # A stage built FROM this one may run the update.
    for other in model.stages:
        if other is not stage and stage in other.chain():
            if any(registers_trust(other, cmd, stage_facts(other)) for _run, cmd in other.commands()):
                return None
    return last, paths


@check("IL201")
def ca_not_registered(model, ctx):
    for stage in model.stages:
        found = unregistered_anchor_ops(model, stage)
        if found is None:
            continue
        op, paths = found
        facts = stage_facts(stage)
        update = facts.get("update_command", "the update command")
        bundle = facts.get("bundle", "the system bundle")
        severity = Severity.ERROR if model.is_shipped(stage) else Severity.WARNING
        family = stage_family(stage)
        yield ctx.hit(
            "IL201",
            f"CA certificate {paths[0]} is added to the {family} trust anchors but `{update}` never runs after it "
            f"in this stage, so {bundle} will not contain it",
            op.inst, op.start or None, op.end or None, stage=stage, severity=severity, whole_instruction=True,
            fix=fixes.register_ca(model, stage, op),
        )
