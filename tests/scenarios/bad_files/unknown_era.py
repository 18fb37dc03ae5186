from pinlab.api import NEVER, Family, era_by_name, row

FAMILY = Family("broken", title="t", source="s", forbidden="f")


def build(era):
    raise AssertionError("never built")


SCENARIOS = FAMILY.variants(build, row("v9.9", era_by_name("v9.9"), sc=NEVER))
