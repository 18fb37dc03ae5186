from pinlab.api import NEVER, era_by_name, row

SCENARIOS = (row("current", era_by_name("current"), sc=NEVER),)
