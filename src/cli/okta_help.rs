//! `loopops-mcp help okta`: the README's "For IT: setting up Okta" section, built
//! into the binary, so the guide IT reads on GitHub and the one on a locked-down
//! machine are one text.

const README: &str = include_str!("../../README.md");
const HEADING: &str = "## For IT: setting up Okta";

/// The section, from its heading to the next one.
pub fn text() -> &'static str {
    let start = README.find(HEADING).expect("README.md has the Okta guide");
    let rest = &README[start..];
    let end = rest[HEADING.len()..]
        .find("\n## ")
        .map_or(rest.len(), |i| i + HEADING.len() + 1);
    rest[..end].trim_end()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_guide_names_what_login_needs() {
        let t = super::text();
        assert!(t.starts_with(super::HEADING));
        assert!(!t.contains("\n## "), "one section only");
        for needed in [
            "Native Application",
            "Device Authorization",
            "Refresh Token",
            "openid profile offline_access",
            "grace period",
            "Assignments",
            "status --check",
        ] {
            assert!(t.contains(needed), "{needed}");
        }
    }
}
