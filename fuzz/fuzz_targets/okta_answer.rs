//! Any bytes as an Okta token endpoint answer (the first byte picks the status and
//! content type): no panic, and a failure renders. Same as `tests/hostile_random.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/parsers.rs"]
mod parsers;

fuzz_target!(|data: &[u8]| {
    if let Some((status, ct, body)) = parsers::as_answer(data) {
        parsers::check_okta(status, ct, body);
    }
});
