"""kselftest's TAP output, line for line as tools/testing/selftests/kselftest.h prints it.

The functions keep kselftest's names and counters; instead of printing they
append lines to :attr:`Ksft.lines` (only the command line prints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

KSFT_PASS: Final = 0
KSFT_FAIL: Final = 1


@dataclass
class Ksft:
    """The counters of kselftest.h and the lines it would have printed."""

    lines: list[str] = field(default_factory=list)
    plan: int = 0
    npass: int = 0
    nfail: int = 0
    nxfail: int = 0
    nxpass: int = 0
    nskip: int = 0
    nerror: int = 0

    def test_num(self) -> int:
        return self.npass + self.nfail + self.nxfail + self.nxpass + self.nskip + self.nerror

    def print_header(self) -> None:
        self.lines.append("TAP version 13")

    def set_plan(self, plan: int) -> None:
        self.plan = plan
        self.lines.append(f"1..{plan}")

    def print_msg(self, msg: str) -> None:
        self.lines.append(f"# {msg}")

    def test_result_pass(self, msg: str) -> None:
        self.npass += 1
        self.lines.append(f"ok {self.test_num()} {msg}")

    def test_result_fail(self, msg: str) -> None:
        self.nfail += 1
        self.lines.append(f"not ok {self.test_num()} {msg}")

    def test_result(self, condition: bool, msg: str) -> None:
        if condition:
            self.test_result_pass(msg)
        else:
            self.test_result_fail(msg)

    def test_result_xfail(self, msg: str) -> None:
        self.nxfail += 1
        self.lines.append(f"ok {self.test_num()} # XFAIL {msg}")

    def test_result_skip(self, msg: str) -> None:
        self.nskip += 1
        self.lines.append(f"ok {self.test_num()} # SKIP {msg}")

    def test_result_error(self, msg: str) -> None:
        self.nerror += 1
        self.lines.append(f"not ok {self.test_num()} # error {msg}")

    def print_cnts(self) -> None:
        if self.plan != self.test_num():
            self.lines.append(f"# Planned tests != run tests ({self.plan} != {self.test_num()})")
        self.lines.append(
            f"# Totals: pass:{self.npass} fail:{self.nfail} xfail:{self.nxfail} "
            f"xpass:{self.nxpass} skip:{self.nskip} error:{self.nerror}"
        )

    def finished(self) -> int:
        """ksft_finished(): print the totals; the exit code kselftest would use."""
        self.print_cnts()
        ok = self.plan == self.npass + self.nxfail + self.nskip
        return KSFT_PASS if ok else KSFT_FAIL
