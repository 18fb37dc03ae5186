from pinlab.api import Family, era_by_name, row

FAMILY = Family("broken", title="t", source="s", forbidden="f")


def build(era):
    raise AssertionError("never built")


SCENARIOS = FAMILY.variants(build, row("current", era_by_name("current")))
