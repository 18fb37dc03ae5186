from pinlab.api import NEVER, Built, Family, anon_page, era_by_name, kapi, paths, row

FAMILY = Family("broken", title="t", source="s", forbidden="f")


def build(era):
    setup = anon_page(era)

    def spinner():
        while True:  # waits for a value nobody writes
            if (yield from kapi.READ_ONCE(setup.mm.pte(setup.addr))) == 42:
                return {}

    return Built(paths("broken", setup.system, {"spinner": spinner}), lambda state: None)


SCENARIOS = FAMILY.variants(build, row("current", era_by_name("current"), sc=NEVER))
