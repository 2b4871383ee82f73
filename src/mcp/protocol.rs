//! MCP protocol revisions we speak, and what each one allows on the wire.

/// Supported revisions, oldest first. Ordering matters: feature checks compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
}

impl Version {
    pub const ALL: [Version; 4] = [
        Version::V2024_11_05,
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
    ];
    pub const LATEST: Version = Version::V2025_11_25;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2024_11_05 => "2024-11-05",
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
        }
    }

    pub fn parse(s: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The client's version if we speak it, else our latest (never an error).
    pub fn negotiate(requested: &str) -> Version {
        Version::parse(requested).unwrap_or(Version::LATEST)
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
        for v in Version::ALL {
            assert_eq!(Version::negotiate(v.as_str()), v);
        }
        assert_eq!(Version::negotiate("2099-01-01"), Version::LATEST);
        assert_eq!(Version::negotiate(""), Version::LATEST);
    }
}
