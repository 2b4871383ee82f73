/* A stand-in for bcryptprimitives.dll, which Debian's Wine 8.0 lacks (it came in
 * Wine 8.13). Rust >= 1.78's std imports ProcessPrng from it for HashMap keys and
 * randomness (rust-lang/rust#121337), so without it no Rust Windows program starts
 * under that Wine. Test machines only: never shipped. */
#include <windows.h>

/* advapi32's RtlGenRandom, which Wine 8.0 implements. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
