//! Where each MCP client keeps its server list, per OS, and the shape of its entry.
//! One place for every path, so the README and `install` cannot drift apart.
//!
//! | client | macOS | Windows | Linux |
//! |---|---|---|---|
//! | Claude Desktop | `~/Library/Application Support/Claude/claude_desktop_config.json` | `%APPDATA%\Claude\claude_desktop_config.json`, or for the Microsoft Store (MSIX) build `%LOCALAPPDATA%\Packages\Claude_*\LocalCache\Roaming\Claude\claude_desktop_config.json` | `~/.config/Claude/claude_desktop_config.json` |
//! | Claude Code (user) | `~/.claude.json` | `%USERPROFILE%\.claude.json` | `~/.claude.json` |
//! | Cursor (user) | `~/.cursor/mcp.json` | `%USERPROFILE%\.cursor\mcp.json` | `~/.cursor/mcp.json` |
//! | VS Code (user) | `~/Library/Application Support/Code/User/mcp.json` | `%APPDATA%\Code\User\mcp.json` | `~/.config/Code/User/mcp.json` |
//!
//! Project scope: Claude Code `./.mcp.json`, Cursor `./.cursor/mcp.json`, VS Code
//! `./.vscode/mcp.json`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    MacOs,
    Windows,
    Linux,
}

impl Os {
    /// The host, unless `LOOP_MCP_TEST_OS` (`macos`, `windows`, `linux`) says
    /// otherwise: the tests check every client's path for every OS on one machine.
    pub fn current(env: &dyn Fn(&str) -> Option<String>) -> Os {
        match env("LOOP_MCP_TEST_OS").as_deref() {
            Some("macos") => Os::MacOs,
            Some("windows") => Os::Windows,
            Some("linux") => Os::Linux,
            _ if cfg!(target_os = "macos") => Os::MacOs,
            _ if cfg!(windows) => Os::Windows,
            _ => Os::Linux,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    VsCode,
}

pub const CLIENT_NAMES: &str = "claude-desktop, claude-code, cursor, vscode";

impl Client {
    pub fn parse(name: &str) -> Option<Client> {
        match name.to_ascii_lowercase().as_str() {
            "claude-desktop" | "claude" => Some(Client::ClaudeDesktop),
            "claude-code" => Some(Client::ClaudeCode),
            "cursor" => Some(Client::Cursor),
            "vscode" | "vs-code" | "code" => Some(Client::VsCode),
            _ => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "Claude Desktop",
            Client::ClaudeCode => "Claude Code",
            Client::Cursor => "Cursor",
            Client::VsCode => "VS Code",
        }
    }

    /// The key of the server map: VS Code calls it `servers`.
    pub fn servers_key(self) -> &'static str {
        match self {
            Client::VsCode => "servers",
            _ => "mcpServers",
        }
    }

    /// Claude Code and VS Code expect `"type": "stdio"` in the entry.
    pub fn wants_type(self) -> bool {
        matches!(self, Client::ClaudeCode | Client::VsCode)
    }

    /// What the user does after the file changed.
    pub fn reload_hint(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => {
                "Quit Claude Desktop completely (from the menu bar or tray, not just the window) and start it again."
            }
            Client::ClaudeCode => "Start a new Claude Code session; `/mcp` shows the server.",
            Client::Cursor => "Cursor picks it up in Settings > MCP (toggle it on if asked).",
            Client::VsCode => "In VS Code, run \"MCP: List Servers\" and start it, or reload the window.",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user's own config, for every project.
    User,
    /// A file in the current directory, shared with the project.
    Project,
}

/// The directories the paths start from, read from the environment (not from the
/// host's APIs) so that a test can point them anywhere.
#[derive(Debug, Clone)]
pub struct Places {
    pub home: PathBuf,
    pub appdata: Option<PathBuf>,
    pub local_appdata: Option<PathBuf>,
    pub xdg_config: Option<PathBuf>,
    pub cwd: PathBuf,
}

impl Places {
    pub fn from_env(os: Os, env: &dyn Fn(&str) -> Option<String>) -> Result<Places, String> {
        let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = match os {
            Os::Windows => var("USERPROFILE").or_else(|| var("HOME")),
            _ => var("HOME"),
        }
        .or_else(dirs::home_dir)
        .ok_or("no home directory found (HOME / USERPROFILE is not set)")?;
        Ok(Places {
            appdata: var("APPDATA"),
            local_appdata: var("LOCALAPPDATA"),
            xdg_config: var("XDG_CONFIG_HOME"),
            cwd: std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?,
            home,
        })
    }

    fn appdata(&self) -> PathBuf {
        self.appdata
            .clone()
            .unwrap_or_else(|| self.home.join("AppData").join("Roaming"))
    }

    fn local_appdata(&self) -> PathBuf {
        self.local_appdata
            .clone()
            .unwrap_or_else(|| self.home.join("AppData").join("Local"))
    }

    fn xdg_config(&self) -> PathBuf {
        self.xdg_config
            .clone()
            .unwrap_or_else(|| self.home.join(".config"))
    }
}

/// The config file `client` reads on `os`.
pub fn config_path(client: Client, scope: Scope, os: Os, at: &Places) -> Result<PathBuf, String> {
    if scope == Scope::Project {
        return match client {
            Client::ClaudeDesktop => Err("Claude Desktop has no project config; leave out --scope".into()),
            Client::ClaudeCode => Ok(at.cwd.join(".mcp.json")),
            Client::Cursor => Ok(at.cwd.join(".cursor").join("mcp.json")),
            Client::VsCode => Ok(at.cwd.join(".vscode").join("mcp.json")),
        };
    }
    let app_support = at.home.join("Library").join("Application Support");
    Ok(match (client, os) {
        (Client::ClaudeDesktop, Os::MacOs) => app_support.join("Claude").join(DESKTOP_FILE),
        (Client::ClaudeDesktop, Os::Windows) => match msix_claude_dir(&at.local_appdata()) {
            Some(dir) => dir.join(DESKTOP_FILE),
            None => at.appdata().join("Claude").join(DESKTOP_FILE),
        },
        (Client::ClaudeDesktop, Os::Linux) => at.xdg_config().join("Claude").join(DESKTOP_FILE),
        (Client::ClaudeCode, _) => at.home.join(".claude.json"),
        (Client::Cursor, _) => at.home.join(".cursor").join("mcp.json"),
        (Client::VsCode, Os::MacOs) => app_support.join("Code").join("User").join("mcp.json"),
        (Client::VsCode, Os::Windows) => at.appdata().join("Code").join("User").join("mcp.json"),
        (Client::VsCode, Os::Linux) => at.xdg_config().join("Code").join("User").join("mcp.json"),
    })
}

const DESKTOP_FILE: &str = "claude_desktop_config.json";

/// The Microsoft Store build of Claude Desktop runs in a package whose writes to
/// `%APPDATA%` are redirected to `%LOCALAPPDATA%\Packages\Claude_<id>\LocalCache\Roaming`:
/// that is the file it reads. The first such package, by name, if one is installed.
pub fn msix_claude_dir(local_appdata: &Path) -> Option<PathBuf> {
    let mut packages: Vec<PathBuf> = std::fs::read_dir(local_appdata.join("Packages"))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("Claude_"))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    packages.sort();
    let package = packages.into_iter().next()?;
    Some(package.join("LocalCache").join("Roaming").join("Claude"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(root: &Path) -> Places {
        Places {
            home: root.join("home"),
            appdata: Some(root.join("AppData/Roaming")),
            local_appdata: Some(root.join("AppData/Local")),
            xdg_config: None,
            cwd: root.join("project"),
        }
    }

    #[test]
    fn every_client_on_every_os() {
        let root = crate::test_dir::TestDir::new("clients");
        let at = places(&root);
        let p = |c, os| {
            config_path(c, Scope::User, os, &at)
                .unwrap()
                .strip_prefix(&root)
                .unwrap()
                .display()
                .to_string()
                // Run on Windows (Wine), the host joins with backslashes.
                .replace('\\', "/")
        };
        use Client::*;
        use Os::*;
        let want = [
            (
                ClaudeDesktop,
                MacOs,
                "home/Library/Application Support/Claude/claude_desktop_config.json",
            ),
            (
                ClaudeDesktop,
                Windows,
                "AppData/Roaming/Claude/claude_desktop_config.json",
            ),
            (
                ClaudeDesktop,
                Linux,
                "home/.config/Claude/claude_desktop_config.json",
            ),
            (ClaudeCode, MacOs, "home/.claude.json"),
            (ClaudeCode, Windows, "home/.claude.json"),
            (ClaudeCode, Linux, "home/.claude.json"),
            (Cursor, MacOs, "home/.cursor/mcp.json"),
            (Cursor, Windows, "home/.cursor/mcp.json"),
            (Cursor, Linux, "home/.cursor/mcp.json"),
            (
                VsCode,
                MacOs,
                "home/Library/Application Support/Code/User/mcp.json",
            ),
            (VsCode, Windows, "AppData/Roaming/Code/User/mcp.json"),
            (VsCode, Linux, "home/.config/Code/User/mcp.json"),
        ];
        for (c, os, path) in want {
            assert_eq!(p(c, os), path, "{c:?} on {os:?}");
        }
        // The Store build's package redirects Claude Desktop's file.
        std::fs::create_dir_all(root.join("AppData/Local/Packages/Claude_pzs8sxrjxfjjc")).unwrap();
        std::fs::create_dir_all(root.join("AppData/Local/Packages/Other_123")).unwrap();
        assert_eq!(
            p(ClaudeDesktop, Windows),
            "AppData/Local/Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude/claude_desktop_config.json"
        );
        let project = |c| {
            config_path(c, Scope::Project, Linux, &at).map(|p| p.display().to_string().replace('\\', "/"))
        };
        assert!(project(ClaudeDesktop).is_err());
        assert!(project(ClaudeCode).unwrap().ends_with("project/.mcp.json"));
        assert!(project(VsCode).unwrap().ends_with("project/.vscode/mcp.json"));
        assert!(project(Cursor).unwrap().ends_with("project/.cursor/mcp.json"));
    }
}
