//! MCP protocol revisions we speak, and what each one allows on the wire.

/// Supported revisions, oldest first. Ordering matters: feature checks compare.
/// 2024-11-05 … 2025-11-25 are the legacy (handshake) era, 2026-07-28 the modern,
/// stateless one (spec/2026-07-28/basic/versioning.mdx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl Version {
    pub const ALL: [Version; 5] = [
        Version::V2024_11_05,
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
        Version::V2026_07_28,
    ];
    /// What `initialize` can select.
    pub const LEGACY: [Version; 4] = [
        Version::V2024_11_05,
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
    ];
    /// The newest handshake revision: `initialize`'s answer to a version it does not know.
    pub const LATEST: Version = Version::V2025_11_25;
    /// What `server/discover` and `-32022` list, newest first.
    pub const SUPPORTED_NEWEST_FIRST: [&'static str; 5] = [
        "2026-07-28",
        "2025-11-25",
        "2025-06-18",
        "2025-03-26",
        "2024-11-05",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2024_11_05 => "2024-11-05",
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
            Version::V2026_07_28 => "2026-07-28",
        }
    }

    pub fn parse(s: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// `initialize`: the client's version if it is a handshake revision we speak,
    /// else our latest handshake revision (never an error; a modern version asked
    /// for through `initialize` gets the legacy era it asked for by that method).
    pub fn negotiate(requested: &str) -> Version {
        Version::parse(requested)
            .filter(|v| !v.is_modern())
            .unwrap_or(Version::LATEST)
    }

    /// Stateless: version and capabilities ride on every request; results carry
    /// `resultType`, lists carry caching hints.
    pub fn is_modern(self) -> bool {
        self >= Version::V2026_07_28
    }

    /// Position in `ALL`, for tables built once per version.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `completions` server capability (`completion/complete` itself is older).
    pub fn has_completions_capability(self) -> bool {
        self >= Version::V2025_03_26
    }

    /// Tool `annotations`.
    pub fn has_annotations(self) -> bool {
        self >= Version::V2025_03_26
    }

    /// `title` on tools, prompts and serverInfo; tool `outputSchema` and `structuredContent`.
    pub fn has_titles_and_structured_output(self) -> bool {
        self >= Version::V2025_06_18
    }

    /// Invalid tool arguments are a tool result with `isError` rather than `-32602`.
    pub fn invalid_arguments_are_tool_errors(self) -> bool {
        self >= Version::V2025_11_25
    }

    /// JSON-RPC batches existed in this revision only.
    pub fn allows_batches(self) -> bool {
        self == Version::V2025_03_26
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_known_and_falls_back_to_latest() {
        for v in Version::LEGACY {
            assert_eq!(Version::negotiate(v.as_str()), v);
        }
        assert_eq!(Version::negotiate("2026-07-28"), Version::LATEST);
        assert_eq!(Version::negotiate("2099-01-01"), Version::LATEST);
        assert_eq!(Version::negotiate(""), Version::LATEST);
    }

    #[test]
    fn the_lists_agree() {
        for (i, v) in Version::ALL.into_iter().enumerate() {
            assert_eq!(v.index(), i);
            assert!(Version::SUPPORTED_NEWEST_FIRST.contains(&v.as_str()));
        }
        assert_eq!(Version::SUPPORTED_NEWEST_FIRST.len(), Version::ALL.len());
        assert!(Version::LEGACY.iter().all(|v| !v.is_modern()));
    }
}
