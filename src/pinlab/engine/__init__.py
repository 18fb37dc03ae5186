"""The engine: operations, execution graphs, memory models and the explorer.

Threads are generators that yield :mod:`~pinlab.engine.ops` operations; a
:class:`~pinlab.engine.program.Program` bundles them with initial memory and a
final-state condition.  Nothing in this package knows about the kernel or
about litmus syntax.
"""
