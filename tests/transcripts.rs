//! Golden transcripts: `fixtures/transcripts/*.jsonl` hold JSON-RPC lines sent (`->`)
//! and the exact lines expected back (`<-`), run through the real binary as a
//! script piping JSON-RPC would. `# args:` and `# env:` lines set up the process.
//! `UPDATE_GOLDEN=1 cargo test --test transcripts` rewrites the `<-` lines; review the diff.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

struct Transcript {
    header: Vec<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Each input line with the output lines expected after it.
    steps: Vec<(String, Vec<String>)>,
}

fn load(path: &Path) -> Transcript {
    let text = fs::read_to_string(path).unwrap();
    let mut t = Transcript {
        header: Vec::new(),
        args: vec!["serve".into()],
        env: Vec::new(),
        steps: Vec::new(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("-> ") {
            t.steps.push((rest.to_string(), Vec::new()));
        } else if let Some(rest) = line.strip_prefix("<- ") {
            t.steps
                .last_mut()
                .expect("an answer follows a request")
                .1
                .push(rest.to_string());
        } else if t.steps.is_empty() {
            if let Some(a) = line.strip_prefix("# args:") {
                t.args = a.split_whitespace().map(str::to_string).collect();
            }
            if let Some(e) = line.strip_prefix("# env:") {
                for kv in e.split_whitespace() {
                    let (k, v) = kv.split_once('=').expect("env is K=V");
                    t.env.push((k.into(), v.into()));
                }
            }
            t.header.push(line.to_string());
        }
    }
    t
}

fn run(t: &Transcript, inputs: &[&str]) -> Vec<String> {
    let args: Vec<&str> = t.args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = t.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut input = inputs.join("\n");
    input.push('\n');
    let out = support::run(&args, &env, input.as_bytes(), Duration::from_secs(20));
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Each step gets the lines that the full run shares with the run that stops after
/// it; what only the end of input produces (closing open subscriptions) goes with
/// the last step.
fn update(path: &Path, t: &Transcript) {
    let mut text = t.header.join("\n");
    text.push('\n');
    let all: Vec<&str> = t.steps.iter().map(|s| s.0.as_str()).collect();
    let full = run(t, &all);
    let mut seen = 0;
    for i in 0..t.steps.len() {
        let upto = if i + 1 == t.steps.len() {
            full.len()
        } else {
            let out = run(t, &all[..=i]);
            out.iter().zip(&full).take_while(|(a, b)| a == b).count()
        };
        text.push_str(&format!("-> {}\n", t.steps[i].0));
        for line in &full[seen..upto.max(seen)] {
            text.push_str(&format!("<- {line}\n"));
        }
        seen = upto.max(seen);
    }
    fs::write(path, text).unwrap();
}

#[test]
fn golden_transcripts() {
    let dir = support::fixtures().join("transcripts");
    let mut paths: Vec<_> = fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    paths.sort();
    assert!(paths.len() >= 5, "transcripts missing in {}", dir.display());
    let updating = std::env::var_os("UPDATE_GOLDEN").is_some();
    for path in paths {
        let t = load(&path);
        if updating {
            update(&path, &t);
            continue;
        }
        let inputs: Vec<&str> = t.steps.iter().map(|s| s.0.as_str()).collect();
        let expected: Vec<&str> = t
            .steps
            .iter()
            .flat_map(|s| s.1.iter().map(String::as_str))
            .collect();
        let actual = run(&t, &inputs);
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            assert_eq!(a, e, "{}: output line {} differs", path.display(), i + 1);
        }
        assert_eq!(
            actual.len(),
            expected.len(),
            "{}: number of output lines",
            path.display()
        );
    }
}
