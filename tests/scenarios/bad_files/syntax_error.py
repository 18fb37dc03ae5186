from pinlab.api import NEVER, Family, era_by_name, row

FAMILY = Family("broken", title="t", source="s", forbidden="f"
SCENARIOS = ()
