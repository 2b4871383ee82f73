//! Open a link in the default browser with the OS's own handler (`open` on macOS,
//! `xdg-open` on Linux, the URL protocol handler on Windows), without a dependency
//! and without a shell: the URL is one argument, so `&` or `;` in it mean nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Open `url`, or say why not (no display, over SSH, no handler, not http(s)).
pub fn open(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err("not an http(s) link".into());
    }
    let var = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if var("SSH_CONNECTION") && !var("DISPLAY") {
        return Err("signed in over SSH: a browser here would open on the remote machine".into());
    }
    let mut cmd = if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else if cfg!(windows) {
        // `cmd /c start` would need `&` escaped; rundll32 takes the URL as it is.
        let mut c = Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", url]);
        c
    } else {
        if !var("DISPLAY") && !var("WAYLAND_DISPLAY") {
            return Err("no display (DISPLAY and WAYLAND_DISPLAY are unset)".into());
        }
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    };
    // Nothing of the handler's may reach our stdout (`login --json` writes JSON there).
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start the browser handler: {e}"))?;
    // Handlers return at once after handing the link over; one that keeps running
    // (a browser started in the foreground) is left to run.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("the browser handler failed ({status})")),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("the browser handler failed: {e}")),
        }
    }
    Ok(())
}
