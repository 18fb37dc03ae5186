"""herd7's text output for a litmus verdict, line for line.

The format is herd7's (herd/top_herd.ml, ``pp_stats``), so that scripts
written for herd7, such as the kernel's ``judgelitmus.sh``, read pinlab's
output unchanged.  A run that stopped at a limit prints no validation and no
``Observation`` line, but says why, rather than claim a verdict it does not
have.
"""

from __future__ import annotations

from pinlab.litmus.verdict import Verdict

__all__ = ["render"]


def render(v: Verdict, *, time: bool = True) -> str:
    """The herd7 block of ``v``, ending with the blank line herd7 prints after each test."""
    lines = [f"Test {v.name} {v.kind}", f"States {len(v.states)}"]
    lines += [" ".join(f"{var}={value};" for var, value in state) for state in v.states]
    if v.ok is None or v.observation is None:
        lines.append(f"Incomplete: {v.outcome}, no verdict")
    else:
        lines.append(("Loop " if v.loop else "") + ("Ok" if v.ok else "No"))
    lines.append("Witnesses")
    lines.append(f"Positive: {v.witnesses[0]} Negative: {v.witnesses[1]}")
    lines += [f"Flag {flag}" for flag in v.flags]
    lines.append(f"Condition {v.condition}")
    if v.observation is not None:
        lines.append(f"Observation {v.name} {v.observation} {v.positive} {v.negative}")
    if time:
        lines.append(f"Time {v.name} {v.seconds:.2f}")
    if v.hash is not None:
        lines.append(f"Hash={v.hash}")
    return "\n".join(lines) + "\n\n"
