"""What an ELF shared object needs from the dynamic loader, read with the standard library alone.

Only the facts the loadability check uses: the machine, the libraries it
needs (DT_NEEDED), its own soname, its search paths (DT_RPATH/DT_RUNPATH), the
glibc symbol versions it requires (DT_VERNEED), and whether it is a Python
extension module (it exports ``PyInit_<name>``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

MAGIC = b"\x7fELF"
MACHINES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm"}
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
MAX_DYNAMIC = 4096  # entries; a real object has a few dozen
SHT_DYNSYM, STB_GLOBAL, STB_WEAK = 11, 1, 2


class NotElf(ValueError):
    """Not a 64-bit little-endian ELF file this check can read."""


@dataclass(frozen=True)
class ElfObject:
    machine: str
    needed: tuple[str, ...] = ()
    soname: str = ""
    search_path: tuple[str, ...] = ()  # DT_RUNPATH, or DT_RPATH when there is no RUNPATH
    glibc: tuple[int, int] = (0, 0)  # the newest GLIBC_x.y symbol version it needs
    extension: bool = False  # exports PyInit_*: a module Python imports
    segments: tuple[tuple[int, int, int], ...] = field(default=(), repr=False)


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == MAGIC
    except OSError:
        return False


def read(path: str) -> ElfObject:
    with open(path, "rb") as handle:
        try:
            return _read(handle)
        except struct.error as exc:  # a short read: a truncated or damaged file
            raise NotElf(f"truncated ({exc})") from None


def _read(handle: BinaryIO) -> ElfObject:
    ident = handle.read(64)
    if len(ident) < 64 or ident[:4] != MAGIC:
        raise NotElf("not an ELF file")
    machine_code = struct.unpack_from("<H", ident, 18)[0]
    machine = MACHINES.get(machine_code, f"machine {machine_code}")
    if ident[4] != 2 or ident[5] != 1:  # ELFCLASS64, little-endian: all Lambda runs
        return ElfObject(machine=f"{machine} (32-bit or big-endian)")
    phoff = struct.unpack_from("<Q", ident, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", ident, 54)
    segments = []
    dynamic: tuple[int, int] | None = None
    for index in range(phnum):
        handle.seek(phoff + index * phentsize)
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack("<IIQQQQ", handle.read(40))
        if p_type == PT_LOAD:
            segments.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return ElfObject(machine=machine)  # static: needs nothing
    entries = _dynamic_entries(handle, *dynamic)
    strtab = _file_offset(segments, _first(entries, DT_STRTAB))
    strsz = _first(entries, DT_STRSZ)
    handle.seek(strtab)
    strings = handle.read(strsz)

    def name(offset: int) -> str:
        end = strings.find(b"\0", offset)
        return strings[offset:end if end >= 0 else None].decode("utf-8", "replace")

    runpath = [name(v) for tag, v in entries if tag == DT_RUNPATH]
    rpath = [name(v) for tag, v in entries if tag == DT_RPATH]
    search = [d for value in (runpath or rpath) for d in value.split(":") if d]
    return ElfObject(
        machine=machine,
        needed=tuple(name(v) for tag, v in entries if tag == DT_NEEDED),
        soname=next((name(v) for tag, v in entries if tag == DT_SONAME), ""),
        search_path=tuple(search),
        glibc=_newest_glibc(handle, segments, entries, name),
        extension=_exports_pyinit(handle, ident, strings),
        segments=tuple(segments),
    )


def _exports_pyinit(handle: BinaryIO, ident: bytes, dynstr: bytes) -> bool:
    """Defines a global PyInit_* (an extension module), read from the dynamic symbol table's section.

    Without section headers, whether the name is among the dynamic strings at all (a name it only
    calls would also count there; no real layer object lacks the headers).
    """
    shoff = struct.unpack_from("<Q", ident, 40)[0]
    shentsize, shnum = struct.unpack_from("<HH", ident, 58)
    if not shoff or not shnum:
        return b"\0PyInit_" in dynstr
    handle.seek(shoff)
    table = handle.read(shentsize * shnum)
    sections = [struct.unpack_from("<IIQQQQIIQQ", table, i * shentsize) for i in range(shnum)]
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != SHT_DYNSYM or not entsize or link >= len(sections):
            continue
        names_offset, names_size = sections[link][4], sections[link][5]
        handle.seek(names_offset)
        names = handle.read(names_size)
        handle.seek(offset)
        symbols = handle.read(size)
        for start in range(0, len(symbols) - entsize + 1, entsize):
            st_name, st_info, _, st_shndx = struct.unpack_from("<IBBH", symbols, start)
            if st_shndx == 0 or (st_info >> 4) not in (STB_GLOBAL, STB_WEAK):
                continue  # undefined (it only calls it), or local
            if names.startswith(b"PyInit_", st_name):
                return True
    return False


def _dynamic_entries(handle: BinaryIO, offset: int, size: int) -> list[tuple[int, int]]:
    handle.seek(offset)
    raw = handle.read(min(size, MAX_DYNAMIC * 16))
    entries = []
    for tag, value in struct.iter_unpack("<qQ", raw[: len(raw) // 16 * 16]):
        if tag == DT_NULL:
            break
        entries.append((tag, value))
    return entries


def _first(entries: list[tuple[int, int]], tag: int) -> int:
    for found, value in entries:
        if found == tag:
            return value
    raise NotElf(f"no dynamic entry {tag}")


def _file_offset(segments: list[tuple[int, int, int]], address: int) -> int:
    for vaddr, offset, filesz in segments:
        if vaddr <= address < vaddr + filesz:
            return address - vaddr + offset
    raise NotElf(f"address {address:#x} is in no loaded segment")


def _newest_glibc(handle: BinaryIO, segments: list[tuple[int, int, int]], entries: list[tuple[int, int]],
                  name: Callable[[int], str]) -> tuple[int, int]:
    """The newest GLIBC_x.y version named in the object's version-needed records."""
    count = next((v for tag, v in entries if tag == DT_VERNEEDNUM), 0)
    address = next((v for tag, v in entries if tag == DT_VERNEED), None)
    if not count or address is None:
        return (0, 0)
    newest = (0, 0)
    offset = _file_offset(segments, address)
    for _ in range(min(count, 256)):
        handle.seek(offset)
        _, aux_count, _, aux, following = struct.unpack("<HHIII", handle.read(16))
        aux_offset = offset + aux
        for _ in range(min(aux_count, 1024)):
            handle.seek(aux_offset)
            _, _, _, vna_name, vna_next = struct.unpack("<IHHII", handle.read(16))
            version = name(vna_name)
            if version.startswith("GLIBC_"):
                parts = version[6:].split(".")
                if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                    newest = max(newest, (int(parts[0]), int(parts[1])))
            if not vna_next:
                break
            aux_offset += vna_next
        if not following:
            break
        offset += following
    return newest
