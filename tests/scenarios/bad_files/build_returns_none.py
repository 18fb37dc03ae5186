from pinlab.api import NEVER, Family, anon_page, era_by_name, row

FAMILY = Family("broken", title="t", source="s", forbidden="f")


def build(era):
    anon_page(era)  # forgot to return Built(...)


SCENARIOS = FAMILY.variants(build, row("current", era_by_name("current"), sc=NEVER))
