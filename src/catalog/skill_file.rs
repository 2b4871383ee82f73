//! Each skill (a prompt in `skills.json`) as an Agent Skill: a `SKILL.md` with YAML
//! frontmatter (`name`, `description`) and the same workflow text as the prompt,
//! generated from the same catalog entry so the two cannot drift apart.
//! Served as `skill://loopops/<name>/SKILL.md` (spec/skills-extension/).

use serde_json::{Map, Value};

use crate::catalog::Prompt;

/// The server-chosen prefix of our skill paths.
pub const PREFIX: &str = "loopops";

/// One generated skill file.
#[derive(Debug, Clone)]
pub struct SkillFile {
    /// The Agent Skills name: the prompt's name with `-` for `_` (the skills
    /// specification allows lowercase letters, digits and hyphens only).
    pub name: String,
    pub title: String,
    pub uri: String,
    /// Exactly what the frontmatter says, in order, as JSON.
    pub frontmatter: Map<String, Value>,
    pub text: String,
}

pub fn skill_name(prompt_name: &str) -> String {
    prompt_name.replace('_', "-")
}

pub fn uri(name: &str) -> String {
    format!("skill://{PREFIX}/{name}/SKILL.md")
}

/// The `SKILL.md` of a prompt.
pub fn render(prompt: &Prompt) -> SkillFile {
    let name = skill_name(&prompt.name);
    let uri = uri(&name);
    let mut frontmatter = Map::new();
    frontmatter.insert("name".into(), Value::String(name.clone()));
    frontmatter.insert("description".into(), Value::String(prompt.description.clone()));

    let mut text = String::from("---\n");
    for (key, value) in &frontmatter {
        let value = value.as_str().expect("frontmatter values are strings");
        text.push_str(&format!("{key}: {}\n", yaml_quoted(value)));
    }
    text.push_str("---\n\n");
    text.push_str(&format!("# {}\n\n{}\n\n", prompt.title, prompt.description));
    text.push_str(
        "Uses the tools of the Loop Operations MCP server (loopops-mcp). The same workflow is its prompt `",
    );
    text.push_str(&prompt.name);
    text.push_str("`.\n\n## Inputs\n\n");
    for a in &prompt.arguments {
        let need = if a.required { "required" } else { "optional" };
        text.push_str(&format!("- `<{}>` ({need}): {}\n", a.name, a.description));
    }
    text.push_str("\nAsk the user for a required input they have not given.\n\n## Workflow\n\n");
    text.push_str(&prompt.fill(|name, default| {
        if default.is_empty() {
            format!("<{name}>")
        } else {
            format!("<{name}> (default: {default})")
        }
    }));
    text.push('\n');
    SkillFile {
        name,
        title: prompt.title.clone(),
        uri,
        frontmatter,
        text,
    }
}

/// A YAML double-quoted scalar: safe for any text with `: ` or `#` in it.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::catalog;

    /// The frontmatter of a SKILL.md read back, for the forms `render` writes.
    fn parse_frontmatter(text: &str) -> Map<String, Value> {
        let body = text.strip_prefix("---\n").expect("starts with frontmatter");
        let (block, _) = body.split_once("\n---\n").expect("frontmatter is closed");
        block
            .lines()
            .map(|line| {
                let (k, v) = line.split_once(": ").expect("key: value");
                // A YAML double-quoted scalar of these escapes is also a JSON string.
                let v: Value = serde_json::from_str(v).expect("a quoted scalar");
                (k.to_string(), v)
            })
            .collect()
    }

    fn valid_name(n: &str) -> bool {
        (1..=64).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-')
            && !n.contains("--")
    }

    #[test]
    fn every_skill_file_follows_the_agent_skills_rules() {
        for p in &catalog().prompts {
            let f = render(p);
            assert!(valid_name(&f.name), "{}", f.name);
            assert_eq!(f.uri, format!("skill://loopops/{}/SKILL.md", f.name));
            // The URI's last path segment is the name.
            assert!(f.uri.ends_with(&format!("/{}/SKILL.md", f.name)));
            assert_eq!(parse_frontmatter(&f.text), f.frontmatter, "{}", f.name);
            let d = f.frontmatter["description"].as_str().unwrap();
            assert!(!d.is_empty() && d.len() <= 1024);
            assert!(!f.text.contains("{{"), "{}", f.name);
        }
    }

    #[test]
    fn the_skill_file_carries_the_prompts_workflow() {
        let p = catalog().prompt("pipeline_review").unwrap();
        let f = render(p);
        assert!(f.text.contains(
            "Run a pipeline review for <period> (default: current_quarter), scope: <owner> (default: everyone I can see)."
        ));
        // Every line of the prompt's own text is in the skill file.
        let prompt_text = p.render(&Map::new()).unwrap();
        let skill_lines: Vec<&str> = f.text.lines().collect();
        for line in prompt_text.lines().skip(1) {
            assert!(skill_lines.contains(&line), "missing: {line}");
        }
        let d = render(catalog().prompt("deal_risk_review").unwrap());
        assert!(d.text.contains("- `<deal>` (required): "));
        assert!(d.text.contains("Review the risk on the deal \"<deal>\"."));
    }

    #[test]
    fn quoting_survives_yaml_specials() {
        assert_eq!(yaml_quoted(r#"a: "b" \ c"#), r#""a: \"b\" \\ c""#);
        let v: Value = serde_json::from_str(&yaml_quoted("x\ny\u{1}")).unwrap();
        assert_eq!(v, "x\ny\u{1}");
    }
}
