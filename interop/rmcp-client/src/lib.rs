//! Nothing here: the interop checks are in `tests/`. See `Cargo.toml`.
