//! The layering of `src/` (see `src/lib.rs`): `cli` over `mcp` over `api` over `auth`
//! over `net`; `catalog` and the shared modules beside them. An import that runs
//! upward, or a shared module that reaches into a layer, fails this test.

use std::fs;
use std::path::Path;

const LAYERS: [&str; 5] = ["cli", "mcp", "api", "auth", "net"];
/// Modules any layer may use, which themselves use no layer.
const SHARED: [&str; 7] = [
    "catalog", "error", "secret", "log", "signals", "sha256", "test_dir",
];

fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::NAME` a file mentions.
fn crate_refs(text: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        refs.push(name);
    }
    refs
}

#[test]
fn no_import_runs_upward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().to_path_buf();
        let module = module_of(&rel);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for target in crate_refs(&text) {
            if target == module {
                continue;
            }
            let allowed = match (
                LAYERS.iter().position(|l| *l == module),
                LAYERS.iter().position(|l| *l == target),
            ) {
                // A layer may use any layer below it, and everything shared.
                (Some(from), Some(to)) => to > from,
                (Some(_), None) => SHARED.contains(&target.as_str()),
                // A shared module uses other shared modules only (catalog: none).
                (None, Some(_)) => false,
                (None, None) => module != "catalog" && SHARED.contains(&target.as_str()),
            };
            if !allowed {
                wrong.push(format!("{}: crate::{target}", rel.display()));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports that break the layering:\n{}",
        wrong.join("\n")
    );
}
