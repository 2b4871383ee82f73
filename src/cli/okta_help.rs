//! `loopops-mcp help okta`: the README's "For IT: setting up Okta" section, built
//! into the binary, so the guide IT reads on GitHub and the one on a locked-down
//! machine are one text. The section is cut out at compile time: only it (about
//! 3 kB) is in the binary, and a README without it does not build.

const README: &[u8] = include_bytes!("../../README.md");
const HEADING: &str = "## For IT: setting up Okta";

/// Where `needle` starts in `haystack` at or after `from`, or `haystack.len()`.
const fn find(haystack: &[u8], needle: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + needle.len() <= haystack.len() {
        let mut j = 0;
        while j < needle.len() && haystack[i + j] == needle[j] {
            j += 1;
        }
        if j == needle.len() {
            return i;
        }
        i += 1;
    }
    haystack.len()
}

const START: usize = find(README, HEADING.as_bytes(), 0);
const _: () = assert!(
    START < README.len(),
    "README.md has no \"## For IT: setting up Okta\" section"
);
const END: usize = find(README, b"\n## ", START + HEADING.len());
const LEN: usize = END - START;

/// A copy, so that the rest of the README is not kept in the binary.
const SECTION: [u8; LEN] = {
    let mut out = [0u8; LEN];
    let mut i = 0;
    while i < LEN {
        out[i] = README[START + i];
        i += 1;
    }
    out
};

const TEXT: &str = match std::str::from_utf8(&SECTION) {
    Ok(s) => s,
    Err(_) => panic!("README.md is UTF-8"),
};

/// The section, from its heading to the next one.
pub fn text() -> &'static str {
    TEXT.trim_end()
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
