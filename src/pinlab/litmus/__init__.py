"""The C litmus front end: parse the kernel's litmus dialect, lower it to an engine Program.

``parse_file`` / ``parse_text`` give a :class:`~pinlab.litmus.ast.Test`;
``lower`` turns it into a :class:`~pinlab.litmus.lower.Lowered` (the engine
Program plus what herd7 prints); ``verdict`` summarises an exploration the
way herd7 does; ``judge`` checks it against the test's ``Result:`` line.
Every error is a :class:`LitmusError` naming ``file:line:col``.
"""
