//! The platform half of saving a file crash-safely: create a private temp file, put it
//! in place of the old one with one rename, and make that rename durable. The token
//! store (`config_file.rs`) calls these; nothing here knows about JSON or tokens.
//!
//! - Unix: the temp file is created 0600; rename(2) replaces atomically; the rename is
//!   durable once the directory is fsynced.
//! - Windows: the temp file is created with an owner-only, protected DACL (the user's
//!   own SID, full control, nothing inherited); `MoveFileExW` with
//!   `MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH` replaces and flushes in one
//!   call (a directory cannot be opened for fsync there). Another program holding the
//!   old file without delete sharing (an editor, an antivirus scan) makes the rename
//!   fail with a sharing violation: it is retried for a bounded time.
//!
//! Either way the old file stays whole until the rename, so a process killed at any
//! point (the only way a Windows client ends us besides closing stdin) leaves the old
//! file or the new one, never a mix.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a rename blocked by another program's open handle is retried.
pub const RENAME_RETRY: Duration = Duration::from_secs(2);

/// Create `path`, which must not exist, readable and writable by its owner only.
pub fn create_private(path: &Path) -> io::Result<File> {
    imp::create_private(path)
}

/// Open (creating if needed) the lock sidecar, owner-only where it is created.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    imp::open_lock_file(path)
}

/// Replace `target` by `tmp` in one step and make the replacement durable.
/// `dir` is the directory both live in.
pub fn replace(tmp: &Path, target: &Path, dir: &Path) -> io::Result<()> {
    rename_over(tmp, target)?;
    sync_dir(dir)
}

/// Make a rename in `dir` durable: fsync the directory on Unix; nothing on Windows,
/// where the rename was written through and a directory cannot be opened as a file.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    imp::sync_dir(dir)
}

/// Rename `tmp` over `target` in one step, retrying for a bounded time while another
/// program's handle blocks it (Windows).
pub fn rename_over(tmp: &Path, target: &Path) -> io::Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match imp::rename_durably(tmp, target) {
            Ok(()) => return Ok(()),
            Err(e) if imp::is_transient_rename_error(&e) && start.elapsed() < RENAME_RETRY => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::Path;

    pub fn create_private(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    }

    pub fn open_lock_file(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
    }

    pub fn rename_durably(tmp: &Path, target: &Path) -> io::Result<()> {
        std::fs::rename(tmp, target)
    }

    pub fn is_transient_rename_error(_: &io::Error) -> bool {
        // rename(2) over a file never waits for another process's open handle.
        false
    }

    pub fn sync_dir(dir: &Path) -> io::Result<()> {
        // The rename is durable only once the directory is.
        File::open(dir)?.sync_all()
    }
}

#[cfg(windows)]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::{FromRawHandle, RawHandle};
    use std::path::Path;

    use super::win32::*;

    fn wide(path: &Path) -> Vec<u16> {
        path.as_os_str().encode_wide().chain(Some(0)).collect()
    }

    pub fn create_private(path: &Path) -> io::Result<File> {
        let sd = OwnerOnly::new()?;
        let sa = sd.attributes();
        let name = wide(path);
        // SAFETY: `name` is NUL-terminated, `sa` points into `sd`, which outlives
        // the call; the handle is owned by the returned File.
        unsafe {
            let h = CreateFileW(
                name.as_ptr(),
                GENERIC_READ | GENERIC_WRITE | WRITE_DAC,
                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                &sa,
                CREATE_NEW,
                FILE_ATTRIBUTE_NORMAL,
                std::ptr::null_mut(),
            );
            if h == INVALID_HANDLE_VALUE {
                return Err(io::Error::last_os_error());
            }
            let file = File::from_raw_handle(h as RawHandle);
            // Windows applies the descriptor at creation; set it again on the handle,
            // for file systems and emulations that ignore it there (Wine does).
            sd.apply_to(&file)?;
            Ok(file)
        }
    }

    pub fn open_lock_file(path: &Path) -> io::Result<File> {
        // The sidecar holds no data; the profile's inherited ACL is enough for it.
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
    }

    pub fn rename_durably(tmp: &Path, target: &Path) -> io::Result<()> {
        let (from, to) = (wide(tmp), wide(target));
        // SAFETY: both names are NUL-terminated wide strings.
        let ok = unsafe {
            MoveFileExW(
                from.as_ptr(),
                to.as_ptr(),
                MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn is_transient_rename_error(e: &io::Error) -> bool {
        // Another handle without FILE_SHARE_DELETE on the target (access denied is
        // what MoveFileEx reports for that, and for a file pending deletion).
        matches!(
            e.raw_os_error(),
            Some(ERROR_ACCESS_DENIED | ERROR_SHARING_VIOLATION | ERROR_LOCK_VIOLATION)
        )
    }

    pub fn sync_dir(_dir: &Path) -> io::Result<()> {
        // MOVEFILE_WRITE_THROUGH already flushed the rename; Windows refuses to open
        // a directory as a file, so there is nothing more to do.
        Ok(())
    }
}

/// The few Win32 declarations the Windows half needs; kernel32 and advapi32 are part
/// of every Windows installation, so they cost no dependency.
#[cfg(windows)]
pub mod win32 {
    #![allow(non_snake_case, clippy::upper_case_acronyms)]
    use std::ffi::c_void;
    use std::io;

    pub type HANDLE = *mut c_void;
    pub type BOOL = i32;

    pub const GENERIC_READ: u32 = 0x8000_0000;
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
    pub const WRITE_DAC: u32 = 0x0004_0000;
    pub const FILE_SHARE_READ: u32 = 1;
    pub const FILE_SHARE_WRITE: u32 = 2;
    pub const FILE_SHARE_DELETE: u32 = 4;
    pub const CREATE_NEW: u32 = 1;
    pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
    pub const INVALID_HANDLE_VALUE: HANDLE = -1isize as HANDLE;
    pub const MOVEFILE_REPLACE_EXISTING: u32 = 1;
    pub const MOVEFILE_WRITE_THROUGH: u32 = 8;
    pub const ERROR_ACCESS_DENIED: i32 = 5;
    pub const ERROR_SHARING_VIOLATION: i32 = 32;
    pub const ERROR_LOCK_VIOLATION: i32 = 33;
    pub const TOKEN_QUERY: u32 = 8;
    pub const TOKEN_USER_CLASS: u32 = 1;
    pub const ACL_REVISION: u32 = 2;
    pub const SECURITY_DESCRIPTOR_REVISION: u32 = 1;
    pub const SE_DACL_PROTECTED: u16 = 0x1000;
    pub const DACL_SECURITY_INFORMATION: u32 = 4;
    pub const PROTECTED_DACL_SECURITY_INFORMATION: u32 = 0x8000_0000;

    #[repr(C)]
    pub struct SECURITY_ATTRIBUTES {
        pub nLength: u32,
        pub lpSecurityDescriptor: *mut c_void,
        pub bInheritHandle: BOOL,
    }

    #[repr(C)]
    pub struct SID_AND_ATTRIBUTES {
        pub Sid: *mut c_void,
        pub Attributes: u32,
    }

    #[link(name = "kernel32")]
    unsafe extern "system" {
        pub fn CreateFileW(
            name: *const u16,
            access: u32,
            share: u32,
            security: *const SECURITY_ATTRIBUTES,
            disposition: u32,
            flags: u32,
            template: HANDLE,
        ) -> HANDLE;
        pub fn MoveFileExW(from: *const u16, to: *const u16, flags: u32) -> BOOL;
        pub fn GetCurrentProcess() -> HANDLE;
        pub fn GetModuleHandleW(name: *const u16) -> HANDLE;
        pub fn GetProcAddress(module: HANDLE, name: *const std::ffi::c_char) -> *mut c_void;
        pub fn CloseHandle(h: HANDLE) -> BOOL;
    }

    #[link(name = "advapi32")]
    unsafe extern "system" {
        pub fn OpenProcessToken(process: HANDLE, access: u32, token: *mut HANDLE) -> BOOL;
        pub fn GetTokenInformation(
            token: HANDLE,
            class: u32,
            info: *mut c_void,
            len: u32,
            needed: *mut u32,
        ) -> BOOL;
        pub fn GetLengthSid(sid: *mut c_void) -> u32;
        pub fn InitializeAcl(acl: *mut c_void, len: u32, revision: u32) -> BOOL;
        pub fn AddAccessAllowedAce(acl: *mut c_void, revision: u32, mask: u32, sid: *mut c_void) -> BOOL;
        pub fn InitializeSecurityDescriptor(sd: *mut c_void, revision: u32) -> BOOL;
        pub fn SetSecurityDescriptorDacl(
            sd: *mut c_void,
            present: BOOL,
            acl: *mut c_void,
            defaulted: BOOL,
        ) -> BOOL;
        pub fn SetKernelObjectSecurity(h: HANDLE, info: u32, sd: *mut c_void) -> BOOL;
        pub fn SetSecurityDescriptorControl(sd: *mut c_void, mask: u16, bits: u16) -> BOOL;
        pub fn GetFileSecurityW(
            name: *const u16,
            info: u32,
            sd: *mut c_void,
            len: u32,
            needed: *mut u32,
        ) -> BOOL;
        pub fn GetSecurityDescriptorDacl(
            sd: *mut c_void,
            present: *mut BOOL,
            acl: *mut *mut c_void,
            defaulted: *mut BOOL,
        ) -> BOOL;
        pub fn GetSecurityDescriptorControl(sd: *mut c_void, control: *mut u16, revision: *mut u32) -> BOOL;
        pub fn GetAce(acl: *mut c_void, index: u32, ace: *mut *mut c_void) -> BOOL;
        pub fn EqualSid(a: *mut c_void, b: *mut c_void) -> BOOL;
    }

    fn check(ok: BOOL) -> io::Result<()> {
        if ok == 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The current user's SID, in a buffer that keeps it alive.
    pub struct UserSid {
        buf: Vec<u64>,
    }

    impl UserSid {
        pub fn current() -> io::Result<UserSid> {
            // SAFETY: plain Win32 calls on our own process token; the buffer is sized
            // by the first call and 8-byte aligned for TOKEN_USER.
            unsafe {
                let mut token: HANDLE = std::ptr::null_mut();
                check(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token))?;
                let mut needed = 0u32;
                GetTokenInformation(token, TOKEN_USER_CLASS, std::ptr::null_mut(), 0, &mut needed);
                let mut buf = vec![0u64; (needed as usize).div_ceil(8).max(4)];
                let got = GetTokenInformation(
                    token,
                    TOKEN_USER_CLASS,
                    buf.as_mut_ptr().cast(),
                    (buf.len() * 8) as u32,
                    &mut needed,
                );
                let err = io::Error::last_os_error();
                CloseHandle(token);
                if got == 0 {
                    return Err(err);
                }
                Ok(UserSid { buf })
            }
        }

        pub fn as_ptr(&self) -> *mut c_void {
            // TOKEN_USER starts with SID_AND_ATTRIBUTES, whose Sid points into buf.
            let user = self.buf.as_ptr().cast::<SID_AND_ATTRIBUTES>();
            // SAFETY: buf holds a TOKEN_USER filled by GetTokenInformation.
            unsafe { (*user).Sid }
        }
    }

    /// A security descriptor whose DACL grants the current user full control and
    /// nobody else anything, protected from inheriting the folder's entries.
    pub struct OwnerOnly {
        _sid: UserSid,
        acl: Vec<u64>,
        sd: Vec<u64>,
    }

    impl OwnerOnly {
        pub fn new() -> io::Result<OwnerOnly> {
            let sid = UserSid::current()?;
            // SAFETY: the ACL and descriptor buffers are sized per the Win32 rules
            // (ACL header 8 + ACCESS_ALLOWED_ACE 8 + the SID; descriptor 40 bytes on
            // 64-bit) and live as long as `self`.
            unsafe {
                let acl_len = 8 + 8 + GetLengthSid(sid.as_ptr());
                let mut acl = vec![0u64; (acl_len as usize).div_ceil(8)];
                check(InitializeAcl(acl.as_mut_ptr().cast(), acl_len, ACL_REVISION))?;
                check(AddAccessAllowedAce(
                    acl.as_mut_ptr().cast(),
                    ACL_REVISION,
                    FILE_ALL_ACCESS,
                    sid.as_ptr(),
                ))?;
                let mut sd = vec![0u64; 8];
                check(InitializeSecurityDescriptor(
                    sd.as_mut_ptr().cast(),
                    SECURITY_DESCRIPTOR_REVISION,
                ))?;
                check(SetSecurityDescriptorDacl(
                    sd.as_mut_ptr().cast(),
                    1,
                    acl.as_mut_ptr().cast(),
                    0,
                ))?;
                check(SetSecurityDescriptorControl(
                    sd.as_mut_ptr().cast(),
                    SE_DACL_PROTECTED,
                    SE_DACL_PROTECTED,
                ))?;
                Ok(OwnerOnly { _sid: sid, acl, sd })
            }
        }

        pub fn apply_to(&self, file: &std::fs::File) -> io::Result<()> {
            use std::os::windows::io::AsRawHandle;
            // SAFETY: the handle is open for the file's lifetime and the descriptor
            // is valid for `self`'s.
            check(unsafe {
                SetKernelObjectSecurity(
                    file.as_raw_handle(),
                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                    self.sd.as_ptr() as *mut c_void,
                )
            })
        }

        pub fn attributes(&self) -> SECURITY_ATTRIBUTES {
            let _ = &self.acl;
            SECURITY_ATTRIBUTES {
                nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
                lpSecurityDescriptor: self.sd.as_ptr() as *mut c_void,
                bInheritHandle: 0,
            }
        }
    }

    /// What a file's DACL says, as far as the privacy tests need it.
    #[derive(Debug, PartialEq, Eq)]
    pub struct DaclSummary {
        pub protected: bool,
        pub aces: u32,
        /// Every ACE is an allow entry for the current user.
        pub only_current_user: bool,
        /// Some allow entry is for Everyone, Authenticated Users or Users.
        pub others_allowed: bool,
    }

    /// Well-known SIDs of "everybody" groups, as bytes (revision, count, authority,
    /// sub-authorities little-endian): Everyone, Authenticated Users, BUILTIN\Users.
    const OTHERS: [&[u8]; 3] = [
        &[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        &[1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0],
        &[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x21, 2, 0, 0],
    ];

    /// Whether we run under Wine (its ntdll exports `wine_get_version`), where a
    /// DACL is kept only as far as Unix permission bits can express it.
    pub fn is_wine() -> bool {
        let name: Vec<u16> = "ntdll.dll".encode_utf16().chain(Some(0)).collect();
        // SAFETY: ntdll is loaded in every process; the name is NUL-terminated.
        unsafe {
            let m = GetModuleHandleW(name.as_ptr());
            !m.is_null() && !GetProcAddress(m, c"wine_get_version".as_ptr()).is_null()
        }
    }

    /// Read back `path`'s DACL (for tests and `status` diagnostics).
    pub fn dacl_summary(path: &std::path::Path) -> io::Result<DaclSummary> {
        use std::os::windows::ffi::OsStrExt;
        let name: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        let sid = UserSid::current()?;
        // SAFETY: the descriptor buffer is sized by the first call; ACEs are read
        // through GetAce, which bounds-checks the index.
        unsafe {
            let mut needed = 0u32;
            GetFileSecurityW(
                name.as_ptr(),
                DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                0,
                &mut needed,
            );
            let e = io::Error::last_os_error();
            if needed == 0 {
                return Err(e);
            }
            let mut sd = vec![0u64; (needed as usize).div_ceil(8)];
            check(GetFileSecurityW(
                name.as_ptr(),
                DACL_SECURITY_INFORMATION,
                sd.as_mut_ptr().cast(),
                (sd.len() * 8) as u32,
                &mut needed,
            ))?;
            let (mut control, mut revision) = (0u16, 0u32);
            check(GetSecurityDescriptorControl(
                sd.as_mut_ptr().cast(),
                &mut control,
                &mut revision,
            ))?;
            let (mut present, mut defaulted) = (0, 0);
            let mut acl: *mut c_void = std::ptr::null_mut();
            check(GetSecurityDescriptorDacl(
                sd.as_mut_ptr().cast(),
                &mut present,
                &mut acl,
                &mut defaulted,
            ))?;
            if present == 0 || acl.is_null() {
                // No DACL at all means everyone has access.
                return Ok(DaclSummary {
                    protected: control & SE_DACL_PROTECTED != 0,
                    aces: 0,
                    only_current_user: false,
                    others_allowed: true,
                });
            }
            // ACL: revision u8, pad u8, size u16, count u16, pad u16.
            let count = *(acl.cast::<u8>().add(4).cast::<u16>()) as u32;
            let mut only = count > 0;
            let mut others = false;
            for i in 0..count {
                let mut ace: *mut c_void = std::ptr::null_mut();
                check(GetAce(acl, i, &mut ace))?;
                // ACE_HEADER (type u8, flags u8, size u16), mask u32, then the SID.
                let kind = *ace.cast::<u8>();
                let ace_sid = ace.cast::<u8>().add(8).cast::<c_void>();
                if kind != 0 || EqualSid(ace_sid, sid.as_ptr()) == 0 {
                    only = false;
                }
                let bytes = std::slice::from_raw_parts(ace_sid.cast::<u8>(), GetLengthSid(ace_sid) as usize);
                if kind == 0 && OTHERS.contains(&bytes) {
                    others = true;
                }
            }
            Ok(DaclSummary {
                protected: control & SE_DACL_PROTECTED != 0,
                aces: count,
                only_current_user: only,
                others_allowed: others,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;

    fn tmpdir(tag: &str) -> crate::test_dir::TestDir {
        crate::test_dir::TestDir::new(&format!("replace-{tag}"))
    }

    #[test]
    fn replace_puts_the_new_file_over_the_old_one() {
        let d = tmpdir("over");
        let target = d.join("mcp.json");
        fs::write(&target, "old").unwrap();
        let tmp = d.join(".mcp.json.tmp.1");
        let mut f = create_private(&tmp).unwrap();
        f.write_all(b"new").unwrap();
        f.sync_all().unwrap();
        drop(f);
        replace(&tmp, &target, &d).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert!(!tmp.exists());
    }

    #[test]
    fn create_private_refuses_an_existing_name() {
        let d = tmpdir("exists");
        let p = d.join("taken");
        fs::write(&p, "x").unwrap();
        assert_eq!(
            create_private(&p).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "x");
    }

    #[test]
    fn paths_with_spaces_and_non_ascii_names() {
        let root = tmpdir("names");
        let d = root.join("Jörg Müller (IT)").join("客户 data");
        fs::create_dir_all(&d).unwrap();
        let target = d.join("mcp config.json");
        let tmp = d.join(".mcp config.json.tmp.7");
        create_private(&tmp).unwrap().write_all(b"{}").unwrap();
        replace(&tmp, &target, &d).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "{}");
        open_lock_file(&d.join("mcp config.json.lock")).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmpdir("mode");
        let p = d.join("f");
        create_private(&p).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[cfg(windows)]
    #[test]
    fn private_files_have_an_owner_only_protected_dacl() {
        let d = tmpdir("dacl");
        let p = d.join("f");
        create_private(&p).unwrap();
        let got = win32::dacl_summary(&p).unwrap();
        assert!(!got.others_allowed, "{got:?}");
        if !win32::is_wine() {
            let want = win32::DaclSummary {
                protected: true,
                aces: 1,
                only_current_user: true,
                others_allowed: false,
            };
            assert_eq!(got, want);
        }
        // A plain file in the same folder is open to others (Wine: mode 0644), so the
        // check above is not vacuous there; on Windows it inherits the profile's ACL.
        let plain = d.join("plain");
        fs::write(&plain, "x").unwrap();
        let plain = win32::dacl_summary(&plain).unwrap();
        assert_ne!(plain, got);
        if win32::is_wine() {
            assert!(plain.others_allowed, "{plain:?}");
        }
    }

    #[cfg(windows)]
    #[test]
    fn a_rename_blocked_by_another_handle_is_retried_until_it_is_closed() {
        use std::os::windows::fs::OpenOptionsExt;
        let d = tmpdir("sharing");
        let target = d.join("mcp.json");
        fs::write(&target, "old").unwrap();
        // An editor-like handle: read access, no FILE_SHARE_DELETE.
        let holder = fs::OpenOptions::new()
            .read(true)
            .share_mode(1)
            .open(&target)
            .unwrap();
        let tmp = d.join(".mcp.json.tmp.2");
        create_private(&tmp).unwrap().write_all(b"new").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(holder);
        });
        replace(&tmp, &target, &d).unwrap();
        release.join().unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
    }

    #[cfg(windows)]
    #[test]
    fn a_rename_blocked_for_good_gives_up_after_the_bound() {
        use std::os::windows::fs::OpenOptionsExt;
        let d = tmpdir("sharing-forever");
        let target = d.join("mcp.json");
        fs::write(&target, "old").unwrap();
        let _holder = fs::OpenOptions::new()
            .read(true)
            .share_mode(1)
            .open(&target)
            .unwrap();
        let tmp = d.join(".mcp.json.tmp.3");
        create_private(&tmp).unwrap().write_all(b"new").unwrap();
        let start = Instant::now();
        let err = replace(&tmp, &target, &d).unwrap_err();
        assert!(imp::is_transient_rename_error(&err), "{err:?}");
        assert!(start.elapsed() >= RENAME_RETRY);
        assert!(start.elapsed() < RENAME_RETRY * 10);
        drop(_holder);
        assert_eq!(fs::read_to_string(&target).unwrap(), "old");
    }
}
