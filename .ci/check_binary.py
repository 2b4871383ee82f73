#!/usr/bin/env python3
"""Checks a release binary without running it: format and architecture, static
linking (ELF), the DLLs it imports (PE), and for Mach-O the slices of a universal
binary, the minimum macOS version, the libraries it links (no Apple framework) and
its code signature (ad-hoc, not only the linker's, every page hash right).

Usage: check_binary.py KIND PATH [--max-bytes N]
KIND: linux-x86_64 | linux-aarch64 | windows-x86_64 | macos-universal2
Exits 1 with a message naming what is wrong; prints one line per fact checked.
"""

import hashlib
import os
import struct
import sys

MAX_MINOS = (11, 0)


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


# --- ELF -------------------------------------------------------------------------

def check_elf(data, machine_want):
    if data[:4] != b"\x7fELF":
        fail("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        fail("not a 64-bit little-endian ELF")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    names = {62: "x86_64", 183: "aarch64"}
    if names.get(e_machine) != machine_want:
        fail(f"ELF machine {e_machine} ({names.get(e_machine)}), want {machine_want}")
    print(f"format: ELF64 {machine_want}, type {e_type}")
    e_phoff = struct.unpack_from("<Q", data, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    interp = dynamic = False
    for i in range(e_phnum):
        p_type = struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0]
        interp |= p_type == 3  # PT_INTERP: needs a dynamic loader
        dynamic |= p_type == 2
    if interp:
        fail("has a PT_INTERP: dynamically linked, not static")
    # static-pie has PT_DYNAMIC for its own relocations but no DT_NEEDED; the
    # section scan below finds any NEEDED entry.
    if dynamic and needed_libraries(data):
        fail(f"links shared libraries: {needed_libraries(data)}")
    print("static: no interpreter, no shared libraries")


def needed_libraries(data):
    e_shoff = struct.unpack_from("<Q", data, 40)[0]
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 58)
    sections = []
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        sh_type = struct.unpack_from("<I", data, off + 4)[0]
        sh_offset, sh_size = struct.unpack_from("<QQ", data, off + 24)
        sh_link = struct.unpack_from("<I", data, off + 40)[0]
        sections.append((sh_type, sh_offset, sh_size, sh_link))
    libs = []
    for sh_type, off, size, link in sections:
        if sh_type != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[link]
        for j in range(0, size, 16):
            tag, val = struct.unpack_from("<qQ", data, off + j)
            if tag == 1:  # DT_NEEDED
                s = strtab[1] + val
                libs.append(data[s:data.index(b"\0", s)].decode())
    return libs


# --- PE --------------------------------------------------------------------------

SYSTEM_DLLS = {
    "kernel32.dll", "ntdll.dll", "advapi32.dll", "bcrypt.dll", "bcryptprimitives.dll",
    "ws2_32.dll", "userenv.dll", "msvcrt.dll", "shell32.dll", "ole32.dll", "secur32.dll",
    "crypt32.dll", "user32.dll",
    # COM base (CoTaskMemFree, for the known-folder path `dirs` asks for): in
    # System32 since Windows 8; Rust's Windows targets need Windows 10.
    "combase.dll",
}


def check_pe(data):
    if data[:2] != b"MZ":
        fail("not a PE file")
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        fail("no PE signature")
    machine, nsect = struct.unpack_from("<HH", data, pe + 4)
    if machine != 0x8664:
        fail(f"PE machine {machine:#x}, want x86-64 (0x8664)")
    opt = pe + 24
    magic = struct.unpack_from("<H", data, opt)[0]
    if magic != 0x20B:
        fail("not PE32+")
    subsystem = struct.unpack_from("<H", data, opt + 68)[0]
    if subsystem != 3:
        fail(f"subsystem {subsystem}, want the console (3): clients talk over stdio")
    print("format: PE32+ x86-64, console subsystem")
    size_opt = struct.unpack_from("<H", data, pe + 20)[0]
    sect_off = opt + size_opt
    sections = []
    for i in range(nsect):
        o = sect_off + i * 40
        vsize, vaddr, rawsize, rawptr = struct.unpack_from("<IIII", data, o + 8)
        sections.append((vaddr, max(vsize, rawsize), rawptr))

    def rva(r):
        for vaddr, size, raw in sections:
            if vaddr <= r < vaddr + size:
                return r - vaddr + raw
        fail(f"RVA {r:#x} outside every section")

    imp_rva = struct.unpack_from("<I", data, opt + 112 + 8)[0]
    dlls = []
    o = rva(imp_rva)
    while True:
        name_rva = struct.unpack_from("<I", data, o + 12)[0]
        if name_rva == 0:
            break
        n = rva(name_rva)
        dlls.append(data[n:data.index(b"\0", n)].decode().lower())
        o += 20
    # Delay-load and raw-dylib imports (bcryptprimitives) count too.
    delay_rva = struct.unpack_from("<I", data, opt + 112 + 13 * 8)[0]
    if delay_rva:
        o = rva(delay_rva)
        while struct.unpack_from("<I", data, o + 4)[0]:
            n = rva(struct.unpack_from("<I", data, o + 4)[0])
            dlls.append(data[n:data.index(b"\0", n)].decode().lower())
            o += 32
    foreign = [d for d in dlls if d not in SYSTEM_DLLS and not d.startswith("api-ms-win-")]
    if foreign:
        fail(f"imports DLLs a Windows machine does not have: {foreign}")
    print(f"imports only system DLLs: {', '.join(sorted(set(dlls)))}")


# --- Mach-O ----------------------------------------------------------------------

CPU_X86_64 = 0x01000007
CPU_ARM64 = 0x0100000C
CS_ADHOC = 0x2
CS_LINKER_SIGNED = 0x20000


def check_macho_universal(data):
    magic = struct.unpack_from(">I", data, 0)[0]
    if magic != 0xCAFEBABE:
        fail("not a universal (fat) Mach-O binary")
    n = struct.unpack_from(">I", data, 4)[0]
    slices = {}
    for i in range(n):
        cputype, _sub, off, size, _align = struct.unpack_from(">iiIII", data, 8 + i * 20)
        slices[cputype & 0xFFFFFFFF] = data[off:off + size]
    names = {CPU_X86_64: "x86_64", CPU_ARM64: "arm64"}
    if sorted(slices) != sorted(names):
        fail(f"slices {[hex(c) for c in slices]}, want x86_64 and arm64")
    print("format: universal Mach-O, slices x86_64 + arm64")
    for cpu, sl in sorted(slices.items()):
        check_macho_slice(names[cpu], sl)


def check_macho_slice(arch, d):
    if struct.unpack_from("<I", d, 0)[0] != 0xFEEDFACF:
        fail(f"{arch}: not a 64-bit Mach-O")
    _cpu, _sub, filetype, ncmds, _size, _flags = struct.unpack_from("<iiIIII", d, 4)
    if filetype != 2:
        fail(f"{arch}: file type {filetype}, want an executable")
    off = 32
    minos = None
    dylibs = []
    sig = None
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack_from("<II", d, off)
        if cmd == 0x32:  # LC_BUILD_VERSION
            platform, mo = struct.unpack_from("<II", d, off + 8)
            if platform != 1:
                fail(f"{arch}: platform {platform}, want macOS (1)")
            minos = (mo >> 16, (mo >> 8) & 0xFF)
        elif cmd == 0x24:  # LC_VERSION_MIN_MACOSX
            mo = struct.unpack_from("<I", d, off + 8)[0]
            minos = (mo >> 16, (mo >> 8) & 0xFF)
        elif cmd in (0xC, 0x80000018, 0x8000001F):  # LC_LOAD_DYLIB, weak, reexport
            name_off = struct.unpack_from("<I", d, off + 8)[0]
            raw = d[off + name_off:off + cmdsize]
            dylibs.append(raw[:raw.index(b"\0")].decode())
        elif cmd == 0x1D:  # LC_CODE_SIGNATURE
            sig = struct.unpack_from("<II", d, off + 8)
        off += cmdsize
    if minos is None:
        fail(f"{arch}: no minimum macOS version recorded")
    if minos > MAX_MINOS:
        fail(f"{arch}: needs macOS {minos[0]}.{minos[1]}, want <= 11.0")
    print(f"{arch}: minimum macOS {minos[0]}.{minos[1]}")
    frameworks = [x for x in dylibs if "/Frameworks/" in x or not x.startswith("/usr/lib/")]
    if frameworks:
        fail(f"{arch}: links beyond /usr/lib: {frameworks}")
    print(f"{arch}: links {', '.join(dylibs)}")
    if sig is None:
        fail(f"{arch}: not signed (no LC_CODE_SIGNATURE)")
    check_signature(arch, d, *sig)


def check_signature(arch, d, dataoff, datasize):
    blob = d[dataoff:dataoff + datasize]
    magic, _length, count = struct.unpack_from(">III", blob, 0)
    if magic != 0xFADE0CC0:
        fail(f"{arch}: code signature is not an embedded signature superblob")
    cd = None
    kinds = []
    reqs = None
    for i in range(count):
        btype, boff = struct.unpack_from(">II", blob, 12 + i * 8)
        kinds.append(btype)
        if btype == 0 and cd is None:  # CSSLOT_CODEDIRECTORY
            cd = blob[boff:]
        if btype == 2:  # CSSLOT_REQUIREMENTS
            rlen = struct.unpack_from(">I", blob, boff + 4)[0]
            reqs = blob[boff:boff + rlen]
    if cd is None or struct.unpack_from(">I", cd, 0)[0] != 0xFADE0C02:
        fail(f"{arch}: no code directory")
    (_m, _len, _ver, flags, hash_off, ident_off, n_special, n_code, code_limit,
     hash_size, hash_type, _platform, page_shift) = struct.unpack_from(">IIIIIIIIIBBBB", cd, 0)
    if not flags & CS_ADHOC:
        fail(f"{arch}: signature is not ad-hoc (flags {flags:#x})")
    if flags & CS_LINKER_SIGNED:
        fail(f"{arch}: only the linker's signature (flags {flags:#x}); sign it with rcodesign")
    if 2 not in kinds:  # CSSLOT_REQUIREMENTS: what codesign/rcodesign write, ld does not
        fail(f"{arch}: signature has no requirements blob")
    algo = {1: hashlib.sha1, 2: hashlib.sha256}.get(hash_type)
    if algo is None:
        fail(f"{arch}: unknown hash type {hash_type}")
    page = 1 << page_shift
    for i in range(n_code):
        start = i * page
        want = cd[hash_off + i * hash_size:hash_off + (i + 1) * hash_size]
        got = algo(d[start:min(start + page, code_limit)]).digest()[:hash_size]
        if got != want:
            fail(f"{arch}: page {i} does not match its signed hash")
    if n_special < 2:
        fail(f"{arch}: the code directory does not cover the requirements")
    want = cd[hash_off - 2 * hash_size:hash_off - hash_size]
    if algo(reqs).digest()[:hash_size] != want:
        fail(f"{arch}: the requirements blob does not match its signed hash")
    if n_code * page < code_limit:
        fail(f"{arch}: the signature covers {n_code} pages, short of {code_limit} bytes")
    ident = cd[ident_off:cd.index(b"\0", ident_off)].decode()
    print(f"{arch}: ad-hoc signature, identifier {ident}, {n_code} page hashes verified")


def main():
    args = sys.argv[1:]
    max_bytes = 4 * 1024 * 1024
    if "--max-bytes" in args:
        i = args.index("--max-bytes")
        max_bytes = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        fail(__doc__)
    kind, path = args
    with open(path, "rb") as f:
        data = f.read()
    if kind == "linux-x86_64":
        check_elf(data, "x86_64")
        arches = 1
    elif kind == "linux-aarch64":
        check_elf(data, "aarch64")
        arches = 1
    elif kind == "windows-x86_64":
        check_pe(data)
        arches = 1
    elif kind == "macos-universal2":
        check_macho_universal(data)
        arches = 2
    else:
        fail(f"unknown kind {kind}")
    size = os.path.getsize(path)
    per_arch = size / arches
    if per_arch > max_bytes:
        fail(f"{size} bytes for {arches} architecture(s): over {max_bytes} per architecture")
    print(f"size: {size} bytes ({size / 1048576:.2f} MiB, {per_arch / 1048576:.2f} MiB per architecture)")


if __name__ == "__main__":
    main()
