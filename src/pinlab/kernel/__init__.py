"""The kernel model: page pinning in the kernel's own vocabulary.

Folios, page tables, faults, COW and unshare, fork, slow GUP and GUP-fast,
swap, mprotect, munmap, and the drivers the selftests use (vmsplice,
io_uring fixed buffers, gup_test), written as generator functions with the
kernel's names and steps.  Every field more than one CPU can touch is an
engine location, so the same paths run sequentially (the selftests) and
under the explorer (SC and LKMM).  Eras (:mod:`pinlab.kernel.eras`) select
the design of a kernel version; invariants (:mod:`pinlab.kernel.invariants`)
are the properties the design promises.

This package imports only :mod:`pinlab.engine`.
"""
