"""The GUP users the selftests drive: vmsplice, io_uring fixed buffers, gup_test.

Models the page-taking halves of fs/splice.c ``vmsplice_to_pipe`` (a FOLL_GET
reference per page, handed to a pipe buffer) and of pipe reads (copy, then
``put_page``); io_uring/rsrc.c buffer registration (``io_pin_pages``:
``pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)``), ``IORING_OP_WRITE_FIXED``
(the device reads the pinned page) and unregistration; mm/gup_test.c
``pin_longterm_test_start/read/stop``; and the page-cache side of
``pwrite``/``pread`` on a file.

The v5.7-era io_uring pinned with ``pin_user_pages()`` under mmap_lock; for a
present or faultable anonymous page that pins the same page as the fast
variant used here.  Until 34ed8d0dcd69 (v6.5) io_uring then refused
file-backed buffers itself (-EOPNOTSUPP) unless shmem or hugetlb, private
mappings included; since, GUP's FOLL_LONGTERM rules decide.  (The model lets
shmem through in every io_uring era; kernels before the shmem exception
refused memfd buffers too.)  Pipe buffers, rings and gup_test sessions are Python
objects owned by the sequential process API, which passes the pages in.
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import EFAULT, EINVAL, EOPNOTSUPP, FOLL_LONGTERM, FOLL_WRITE, PAGE_SIZE
from pinlab.kernel.folio import Gen, folio_mark_dirty, folio_put
from pinlab.kernel.gup import mmap_read_lock, mmap_read_unlock
from pinlab.kernel.gup_api import pin_user_pages
from pinlab.kernel.gup_fast import get_user_pages_fast, pin_user_pages_fast
from pinlab.kernel.memory import filemap_add_new_folio, filemap_get_folio
from pinlab.kernel.mm_types import AddressSpace, Cpu, MmStruct, Page, page_folio
from pinlab.kernel.pin import unpin_user_pages


def vmsplice_to_pipe(cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, pages: list[Page]) -> Gen:
    """Model of fs/splice.c:vmsplice_to_pipe(): R/O GUP (FOLL_GET) of the user pages.

    Each page's reference moves into a pipe buffer (the caller's ``pages``).
    Returns the bytes spliced or -errno.
    """
    got = yield from get_user_pages_fast(cpu, mm, start, nr_pages, 0, pages)
    if got <= 0:
        return got if got < 0 else -EFAULT
    return got * PAGE_SIZE


def pipe_buf_read(cpu: Cpu, page: Page) -> Gen:
    """Model of fs/pipe.c:pipe_read() for one buffer: copy the page out, then release it."""
    data = yield from kapi.READ_ONCE(page.data)
    yield from folio_put(page_folio(page))  # anon_pipe_buf_release() / put_page()
    return data


def io_pin_pages(cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, pages: list[Page]) -> Gen:
    """Model of io_uring/rsrc.c:io_pin_pages(): a writable longterm pin of the buffer."""
    ret = yield from pin_user_pages_fast(
        cpu, mm, start, nr_pages, FOLL_WRITE | FOLL_LONGTERM, pages
    )
    if ret == nr_pages and not cpu.era.io_uring_gup_file_check:
        # "don't support file backed memory" (before 34ed8d0dcd69).
        vma = mm.find_vma(start)
        file = vma.vm_file if vma is not None else None
        if file is not None and not file.shmem and not file.hugetlb:  # is_file_hugepages()
            ret = -EOPNOTSUPP
    if ret != nr_pages:
        got = ret if ret > 0 else nr_pages if ret == -EOPNOTSUPP else 0
        if got:
            yield from unpin_user_pages(cpu, pages[-got:])
            del pages[-got:]
        return ret if ret < 0 else -EFAULT
    return 0


def io_buffer_unmap(cpu: Cpu, pages: list[Page]) -> Gen:
    """Model of io_uring/rsrc.c:io_buffer_unmap(): unpin the registered buffer."""
    yield from unpin_user_pages(cpu, pages)


def io_write_fixed_read(cpu: Cpu, page: Page) -> Gen:
    """Model of io_uring/rw.c:io_write() on a fixed buffer, device side: read the pinned page."""
    return (yield from kapi.READ_ONCE(page.data))


def file_write_page(cpu: Cpu, file: AddressSpace, index: int, data: int) -> Gen:
    """Model of mm/filemap.c:generic_perform_write() for one page: write into the page cache."""
    folio = yield from filemap_get_folio(file, index)
    if folio is None:
        folio = yield from filemap_add_new_folio(cpu, file, index)
    yield from kapi.WRITE_ONCE(folio.data, data)
    yield from folio_mark_dirty(folio)
    yield from folio_put(folio)


def file_read_page(cpu: Cpu, file: AddressSpace, index: int) -> Gen:
    """Model of mm/filemap.c:filemap_read() for one page (a hole reads as zeroes)."""
    folio = yield from filemap_get_folio(file, index)
    if folio is None:
        return 0
    data = yield from kapi.READ_ONCE(folio.data)
    yield from folio_put(folio)
    return data


def pin_longterm_test_start(
    cpu: Cpu, mm: MmStruct, addr: int, size: int, write: bool, fast: bool, pages: list[Page]
) -> Gen:
    """Model of mm/gup_test.c:pin_longterm_test_start(): pin the range, all or error."""
    if addr % PAGE_SIZE or size % PAGE_SIZE or not size:
        return -EINVAL
    nr_pages = size // PAGE_SIZE
    gup_flags = FOLL_LONGTERM | (FOLL_WRITE if write else 0)
    if not fast:
        yield from mmap_read_lock(mm)
    ret = 0
    while len(pages) < nr_pages:
        start = addr + len(pages) * PAGE_SIZE
        left = nr_pages - len(pages)
        if fast:
            cur = yield from pin_user_pages_fast(cpu, mm, start, left, gup_flags, pages)
        else:
            cur = yield from pin_user_pages(cpu, mm, start, left, gup_flags, pages)
        if cur <= 0:
            # (0 pages and no error would make the kernel's loop spin; the
            # model stops with -EFAULT instead.)
            yield from pin_longterm_test_stop(cpu, pages)
            ret = cur if cur < 0 else -EFAULT
            break
    if not fast:
        yield from mmap_read_unlock(mm)
    return ret


def pin_longterm_test_read(cpu: Cpu, pages: list[Page]) -> Gen:
    """Model of mm/gup_test.c:pin_longterm_test_read(): copy the pinned pages to the user."""
    out = []
    for page in pages:
        out.append((yield from kapi.READ_ONCE(page.data)))
    return out


def pin_longterm_test_stop(cpu: Cpu, pages: list[Page]) -> Gen:
    """Model of mm/gup_test.c:pin_longterm_test_stop()."""
    if pages:
        yield from unpin_user_pages(cpu, pages)
    del pages[:]
