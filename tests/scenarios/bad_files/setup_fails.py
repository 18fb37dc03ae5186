from pinlab.api import NEVER, Built, Family, anon_page, era_by_name, paths, row

FAMILY = Family("broken", title="t", source="s", forbidden="f")


def build(era):
    setup = anon_page(era)
    vma = setup.mm.find_vma(setup.addr + 1 << 30)
    assert vma is not None, "no VMA there"
    return Built(paths("broken", setup.system, {}), lambda state: None)


SCENARIOS = FAMILY.variants(build, row("current", era_by_name("current"), sc=NEVER))
