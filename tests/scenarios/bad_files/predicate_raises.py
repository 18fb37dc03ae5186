from pinlab.api import NEVER, Built, Family, anon_page, era_by_name, kapi, paths, row

FAMILY = Family("broken", title="t", source="s", forbidden="f")


def build(era):
    setup = anon_page(era)

    def reader():
        value = yield from kapi.READ_ONCE(setup.mm.pte(setup.addr))
        return {"pte": value}

    def bad(state):
        return state.regs[0]["no such register"]

    return Built(paths("broken", setup.system, {"reader": reader}), bad)


SCENARIOS = FAMILY.variants(build, row("current", era_by_name("current"), sc=NEVER))
