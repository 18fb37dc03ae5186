"""Ports of the mm selftests (tools/testing/selftests/mm), run on the kernel model.

:mod:`pinlab.selftests.cow` is cow.c; its expected results per era are data
(:mod:`pinlab.selftests.cow_expected`).  This package imports the kernel
model and the engine; it prints nothing (the command line does).
"""
