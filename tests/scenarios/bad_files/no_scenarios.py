from pinlab.api import Family

FAMILY = Family("broken", title="t", source="s", forbidden="f")
