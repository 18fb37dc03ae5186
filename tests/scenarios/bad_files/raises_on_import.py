from pinlab.api import Family

FAMILY = Family("broken", title="t", source="s", forbidden="f")
CURRENT = era_by_nmae("current")  # a typo: NameError
