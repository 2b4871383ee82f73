//! Any text as the shared config file: the lenient reader agrees with serde_json
//! where serde_json reads it, and a change spliced in reads back as that change.
//! Same properties as `tests/hostile_random.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/parsers.rs"]
mod parsers;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        parsers::check_config(text);
    }
});
