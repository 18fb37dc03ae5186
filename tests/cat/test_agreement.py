"""The cat interpreter on the kernel's own model files agrees with the built-in LKMM.

For each litmus test, the run under :func:`pinlab.cat.load_cat` of
``$PINLAB_SHARED/lkmm/linux-kernel.cfg`` must give the built-in ``lkmm``
model's verdict: the same states, counts, flags and observation (or the same
error).  The committed suite runs every kernel/ and catalogue/ test and a
spread of paulmck/ tests that the interpreter finishes within a second or
so each (about a minute in all); ``PINLAB_CAT_FULL=1`` runs all 635.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pinlab.cat import CatModel, load_cat
from pinlab.litmus.run import LitmusRun, run_file
from tests.cat.lkmm_files import CFG, NEEDS_LKMM
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS, corpus, litmus_files, rel

pytestmark = [NEEDS_LKMM, NEEDS_CORPUS]

FULL = os.environ.get("PINLAB_CAT_FULL", "") == "1"
LIMIT = 600.0  # seconds: a guard against a hang, not a measurement

# paulmck/ tests of the committed sample (each well under a few seconds).
PAULMCK_SAMPLE = [
    "auto/C-LB-GRR+OB-OB.litmus",
    "auto/C-LB-GRW+OB-OB.litmus",
    "auto/C-LB-GWR+R-A.litmus",
    "auto/C-LB-LRW+R-A+R-Ok.litmus",
    "auto/C-LB-LWR+R-A+R-Oc.litmus",
    "auto/C-LB-Lrw+R-A.litmus",
    "auto/C-LB-Lwr+R-A.litmus",
    "auto/C-LB-Lww+R-A.litmus",
    "auto/C-RR-G.litmus",
    "auto/C-RR-GH+RR-R.litmus",
    "auto/C-RR-GR1+RR-R.litmus",
    "auto/C-RR-GR3+RR-R.litmus",
    "auto/C-RR-R+RR-R.litmus",
    "auto/C-RW-B.litmus",
    "auto/C-RW-G+RW-R1I.litmus",
    "auto/C-RW-GH+RW-R+RW-R.litmus",
    "auto/C-RW-GR+RW-R.litmus",
    "auto/C-RW-GR1+RW-R+RW-R.litmus",
    "auto/C-RW-GR2+RW-R.litmus",
    "auto/C-RW-GR3+RW-R+RW-R.litmus",
    "auto/C-RW-H+RW-R.litmus",
    "auto/C-RW-R+RW-R+RW-R.litmus",
    "auto/C-RW-R.litmus",
    "auto/C-RW-R1+RW-R1.litmus",
    "auto/C-RW-R1I+RW-R1I+RW-R1I.litmus",
    "auto/C-RW-R1I.litmus",
    "auto/C-RW-R2+RW-R2.litmus",
    "auto/C-RW-R2I+RW-R2I+RW-R2I.litmus",
    "auto/C-RW-R2I.litmus",
    "auto/C-RW-R3+RW-R3.litmus",
    "auto/C-RW-R3I+RW-R3I+RW-R3I.litmus",
    "auto/C-RW-R3I.litmus",
    "auto/C-RW-RB+RW-R.litmus",
    "auto/C-RW-RI+RW-RI+RW-RI.litmus",
    "auto/C-RW-RI.litmus",
    "auto/C-RW-Rr+RW-RC.litmus",
    "auto/C-RW-Rrd+RW-CD+RW-R.litmus",
    "auto/C-RW-Rrd+RW-CD.litmus",
    "auto/C-RW-Rs+RW-RCD.litmus",
    "auto/C-RW-r+RW-C.litmus",
    "auto/C-RW-r+RW-a+RW-B.litmus",
    "auto/C-WR-GH+WR-R+WR-R.litmus",
    "auto/C-WR-GR+WR-R.litmus",
    "auto/C-WR-GR1+WR-R+WR-R.litmus",
    "auto/C-WR-GR2+WR-R.litmus",
    "auto/C-WR-GR3+WR-R+WR-R.litmus",
    "auto/C-WR-H+WR-R.litmus",
    "auto/C-WR-R+WR-R+WR-R.litmus",
    "auto/C-WR-R.litmus",
    "auto/C-WW-B+WW-R.litmus",
    "auto/C-WW-G+WW-R+WW-R.litmus",
    "auto/C-WW-G.litmus",
    "auto/C-WW-GR+WW-R+WW-R.litmus",
    "auto/C-WW-GR+WW-R.litmus",
    "auto/C-WW-GR2+WW-R+WW-R.litmus",
    "auto/C-WW-GR2+WW-R.litmus",
    "auto/C-WW-H+WW-R+WW-R.litmus",
    "auto/C-WW-H+WW-R.litmus",
    "luc/RelAcq/C-3.LB+fencembonceonce+poacquireonce+fencembonceonce.litmus",
    "luc/RelAcq/C-3.LB+poacquireonce+poacquirerelease+poacquirerelease.litmus",
    "luc/RelAcq/C-3.SB+fencembonceonce+fencembonceonce+poonceacquire.litmus",
    "luc/RelAcq/C-3.SB+fencembonceonce+poonceonce+poreleaseacquire.litmus",
    "luc/RelAcq/C-3.SB+poonceacquires.litmus",
    "luc/RelAcq/C-ISA2+pooncerelease+fencembonceonce+poacquireonce.litmus",
    "luc/RelAcq/C-ISA2+poreleaseonce+poacquirerelease+poacquireonce.litmus",
    "luc/RelAcq/C-SB+fencembonceonce+poonceacquire.litmus",
    "luc/RelAcq/C-WRC+poacquireonce+fencembonceonce+Once.litmus",
    "luc/RelAcq/C-WRR+2W+poacquireacquire+poonceonce+Once.litmus",
    "luc/RelAcq/C-WRR+2W+poonceonce+poreleaseonce+Release.litmus",
    "luc/RelAcq/C-Z6.0+poonceonce+poacquireonce+poreleaseonce.litmus",
    "luc/RelAcq/C-Z6.0+pooncerelease+pooncerelease+poreleaseonce.litmus",
    "luc/RelAcq/C-Z6.0+poreleaserelease+poacquireonce+fencembonceonce.litmus",
    "luc/RelAcq/C-Z6.0+poreleaserelease+pooncerelease+poreleaseacquire.litmus",
    "luc/RelAcq/C-Z6.1+poreleaseonce+pooncerelease+ctrlonceonce.litmus",
    "luc/RelAcq/C-Z6.4+pooncerelease+poreleaseonce+poonceacquire.litmus",
    "luc/RelAcq/C-Z6.5+poonceonce+fencembonceonce+poreleaseonce.litmus",
    "manual/absperf/C-SB+l-o-o-u+l-o-o-u-X.litmus",
    "manual/atomic/C-AlanStern-Atomic1.litmus",
    "manual/atomic/C-atomic-01.litmus",
    "manual/atomic/C-atomic-02.litmus",
    "manual/atomic/C-lock-write2.litmus",
    "manual/atomic/C-trylock2.litmus",
    "manual/demo/C-2+2W+o-wmb-o+o-wmb-o.litmus",
    "manual/demo/C-LB+ldref-o+acq-o+o-dep-o.litmus",
    "manual/demo/C-LB+rl-deref-o-rul+o-sync-o+rl-o-o-rlu.litmus",
    "manual/demo/C-MP+o-rel+acq-o.litmus",
    "manual/demo/C-WWC+o+acq-o+acq-o.litmus",
    "manual/demo/C-atomicpo.litmus",
    "manual/deps/LB-addr-not-equals.litmus",
    "manual/deps/LB-ctls-bothvals.litmus",
    "manual/deps/LB-ctls-diffvals-postif.litmus",
    "manual/deps/LB-ctls-sameval-barrier.litmus",
    "manual/extra/C-3.lb+acq-o+acq-o.litmus",
    "manual/extra/C-3.lb+o-rel+acq-rel+acq-o.litmus",
    "manual/extra/C-LB+dataonceonce+dataoncerelease-wsireleaseonce-rfionceonce-frionceonce.litmus",
    "manual/extra/C-Weak-RCU-Readers.litmus",
    "manual/extra/C-isa2+o-rel+acq-rel+acq-o.litmus",
    "manual/extra/C-lb+o-branch-o+o-branch-o.litmus",
    "manual/extra/C-mp+o-rel+acq-o.litmus",
    "manual/extra/C-wrc+o-mb-o+o-mb-o2.litmus",
    "manual/extra/rel-seq/C-rel-seq1.litmus",
    "manual/extra/rel-seq/C-rel-seq4.litmus",
    "manual/kernel/C-2+2W+o-sync-o+o-sync-o.litmus",
    "manual/kernel/C-ISA2+o-mb-o+l-o-o-ul+l-o-o-ul.litmus",
    "manual/kernel/C-IngoMolnar-2Reads.litmus",
    "manual/kernel/C-LB+l-o-o-ul+l-o-o-ul+o-mb-o.litmus",
    "manual/kernel/C-MP+o-mb-o+l-o-ul-l-o-ul.litmus",
    "manual/kernel/C-ManfredSpraul-L1G1locknr.litmus",
    "manual/kernel/C-PPO000-019.litmus",
    "manual/kernel/C-PPO000-019rcu.litmus",
    "manual/kernel/C-PPOCA.litmus",
    "manual/kernel/C-PaulEMcKenney-MP+o-a+a-o.litmus",
    "manual/kernel/C-PaulEMcKenney-MP+o-r+ai-mb-o.litmus",
    "manual/kernel/C-PaulEMcKenney-S+o-sync-o+o-c-o.litmus",
    "manual/kernel/C-PaulEMcKenney-psc+sr-mbacq.litmus",
    "manual/kernel/C-PaulEMcKenney-psc+sr-po.litmus",
    "manual/kernel/C-PaulEMcKenney-psc+sr-relonce.litmus",
    "manual/kernel/C-READ_ONCE-omitted.litmus",
    "manual/kernel/C-RW-s+RW-D.litmus",
    "manual/kernel/C-WillDeacon-MP+o-r+ai-rmb-o.litmus",
    "manual/kernel/C-dynticks-into-idle.litmus",
    "manual/kernel/C-seqctr.litmus",
    "manual/kernel/C-srcu-mb-2.litmus",
    "manual/kernel/C-srcu-mb-4.litmus",
    "manual/kernel/C-srcu-nest-1.litmus",
    "manual/kernel/C-srcu-nest-3.litmus",
    "manual/kernel/C-srcu-nest-5.litmus",
    "manual/kernel/C-srcu-nest-8.litmus",
    "manual/kernel/C-viro-2020.09.29a.litmus",
    "manual/kernel/MP-o-sync-o+rl-o-ctl-o-rul.litmus",
    "manual/kernel/after-unlock-lock-same-cpu.litmus",
    "manual/locked/2+2W+onces+locked.litmus",
    "manual/locked/CoWW+sil-lock-sil-unlock-sil.litmus",
    "manual/locked/rel-acq-unlock-lock/rel-acq-write-ordering-1.litmus",
    "manual/locked/rel-acq-unlock-lock/unlock-lock-write-ordering-1.litmus",
    "manual/lwn573436/C-lb+o-mb-o+o-mb-o.litmus",
    "manual/lwn573436/C-mp+o-wb-o+o-mb-o.litmus",
    "manual/lwn573436/C-r+o-mb-o+o-wb-o2.litmus",
    "manual/lwn573497/C-2+2w+rl-o-o-rul+o-srcu-o.litmus",
    "manual/lwn573497/C-lb+rl-o-o-rul+o-srcu-o.litmus",
    "manual/lwn573497/C-s+o-assign+rl-deref-addr-rul.litmus",
    "manual/memory_barriers/C-coRR+o-o+o.litmus",
    "manual/memory_barriers/C-coWW+o+o.litmus",
    "manual/memory_barriers/C-mp+o-o+o-o.litmus",
    "manual/memory_barriers/C-mp+o-wb-o+o-data-o.litmus",
    "manual/oota/C-AS-OOTA-2.litmus",
    "manual/oota/C-JO-OOTA-2.litmus",
    "manual/oota/C-JO-OOTA-4.litmus",
    "manual/oota/C-JO-OOTA-6.litmus",
    "manual/oota/C-PM-OOTA-1.litmus",
    "manual/plain/C-LB1.litmus",
    "manual/plain/C-MP-rcuderef.litmus",
    "manual/plain/C-OOTA.litmus",
    "manual/plain/C-S-rcuderef.litmus",
    "manual/plain/C-S-rcunoderef-2.litmus",
    "manual/plain/C-S-rcunoderef-4.litmus",
    "manual/plain/C-no-race.litmus",
    "manual/plain/C-non-race4.litmus",
    "manual/plain/C-tearstore.litmus",
    "manual/plain/C-wmb-race2.litmus",
    "manual/srcu/C-SRCU-misnest-not.litmus",
]

# Tests where the two models still disagree: name -> why.
# (The interpreter used to stop with a litmus error on four tests --
# manual/kernel/C-PPO000-019, C-PPO000-019rcu, C-PPOCA, manual/plain/C-non-race4
# -- when its check_partial pruned nothing: a thread dereferenced a pointer it
# had read from an incoherent write.  pinlab.cat.monotone now lets it prune.)
DISAGREE: dict[str, str] = {
    "manual/kernel/C-ManfredSpraul-L1G2xchg.litmus": (
        "no verdict within LIMIT on either side (herd7 times out too: expected.tsv TIMEOUT); "
        "the built-in lkmm checks ~25x more candidates a second, so the partial outputs differ"
    ),
}


@pytest.fixture(scope="module")
def cat_model() -> CatModel:
    return load_cat(CFG)


def _summary(run: LitmusRun) -> object:
    if run.error is not None:
        return str(run.error)
    v = run.verdict
    assert v is not None
    return (v.kind, v.states, v.ok, v.witnesses, v.flags, v.observation, v.positive, v.negative)


def _agree(path: Path, model: CatModel) -> None:
    want = _summary(run_file(path, "lkmm", time_limit=LIMIT))
    got = _summary(run_file(path, model, time_limit=LIMIT))
    assert got == want


def _param(path: Path) -> object:
    name = str(path.relative_to(LITMUS / "paulmck")) if "paulmck" in path.parts else ""
    if name in DISAGREE:
        return pytest.param(path, marks=pytest.mark.xfail(strict=True, reason=DISAGREE[name]))
    return path


SAMPLE = litmus_files("kernel") + litmus_files("catalogue")
SAMPLE += [LITMUS / "paulmck" / p for p in PAULMCK_SAMPLE if (LITMUS / "paulmck" / p).is_file()]


@pytest.mark.parametrize("path", corpus(SAMPLE), ids=rel)
def test_sample_agrees_with_the_built_in_lkmm(path: Path, cat_model: CatModel) -> None:
    _agree(path, cat_model)


if FULL:

    @pytest.mark.slow
    @pytest.mark.parametrize("path", corpus([_param(p) for p in litmus_files()]), ids=str)
    def test_every_litmus_test_agrees(path: Path, cat_model: CatModel) -> None:
        _agree(path, cat_model)

else:  # (one skip, not 635)

    def test_every_litmus_test_agrees() -> None:
        pytest.skip("the full 635-test sweep (about 45 minutes): set PINLAB_CAT_FULL=1")
