from pinlab.api import define_barrier

define_barrier("try_grab_folio_fast:mb-after-pin", "smp_rmb", pairs_with="x", why="mine")
