//! The lineage store's digest of a refresh token: SHA-256 (`crate::sha256`), since a
//! digest must be the same in every process and every build and must not reveal the
//! token, which `std`'s hashers do not promise.

use crate::sha256::{hex, sha256};

/// The digest the store records for a token: `sha256:` and the first 128 bits in hex.
pub fn token_digest(token: &str) -> String {
    format!("sha256:{}", hex(&sha256(token.as_bytes())[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_digest_is_the_first_128_bits_of_its_sha256() {
        assert_eq!(token_digest("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223");
    }
}
