//! Any bytes as a tRPC answer (the first byte picks the status and content type):
//! no panic; a success fits the result bound; a failure is one bounded text
//! without an HTML page's markup. Same properties as `tests/hostile_random.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/parsers.rs"]
mod parsers;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let status = parsers::STATUSES[usize::from(pick) % parsers::STATUSES.len()];
    let ct = parsers::TYPES[usize::from(pick >> 4) % parsers::TYPES.len()];
    parsers::check_trpc(status, ct, body);
});
