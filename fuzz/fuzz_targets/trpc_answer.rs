//! Any bytes as a tRPC answer (the first byte picks the status and content type):
//! no panic; a success fits the result bound; a failure is one bounded text
//! without an HTML page's markup. Same properties as `tests/hostile_random.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/parsers.rs"]
mod parsers;

fuzz_target!(|data: &[u8]| {
    if let Some((status, ct, body)) = parsers::as_answer(data) {
        parsers::check_trpc(status, ct, body);
    }
});
