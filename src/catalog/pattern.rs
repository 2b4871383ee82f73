//! The small regular-expression subset that JSON Schema `pattern`s in our catalog use:
//! anchors, literals, `.`, escapes (`\d`, `\w`, `\s`, escaped punctuation), classes
//! with ranges and negation, groups with `|`, and the quantifiers `? * + {n} {n,} {n,m}`.
//! A regex crate would be a new runtime dependency for six patterns; this is a
//! backtracking matcher whose patterns are ours and whose inputs are bounded by `maxLength`.

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    Group(Vec<Vec<Node>>),
    Repeat {
        node: Box<Node>,
        min: usize,
        max: Option<usize>,
    },
    Start,
    End,
}

/// A compiled pattern. JSON Schema patterns are unanchored unless they say `^`/`$`.
#[derive(Debug, Clone)]
pub struct Pattern {
    seq: Vec<Node>,
}

impl Pattern {
    pub fn new(src: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = src.chars().collect();
        let mut p = Parser {
            chars: &chars,
            pos: 0,
        };
        let alts = p.alternatives()?;
        if p.pos != chars.len() {
            return Err(format!(
                "unexpected `{}` at {} in pattern {src}",
                chars[p.pos], p.pos
            ));
        }
        Ok(Pattern {
            seq: vec![Node::Group(alts)],
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        let input: Vec<char> = text.chars().collect();
        (0..=input.len()).any(|start| matches(&self.seq, &input, start, &mut |_| true))
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<char, String> {
        let c = self.peek().ok_or("pattern ends too early")?;
        self.pos += 1;
        Ok(c)
    }

    fn alternatives(&mut self) -> Result<Vec<Vec<Node>>, String> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alts.push(self.sequence()?);
        }
        Ok(alts)
    }

    fn sequence(&mut self) -> Result<Vec<Node>, String> {
        let mut seq = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let node = self.quantified(atom)?;
            seq.push(node);
        }
        Ok(seq)
    }

    fn atom(&mut self) -> Result<Node, String> {
        Ok(match self.next()? {
            '^' => Node::Start,
            '$' => Node::End,
            '.' => Node::Any,
            '(' => {
                if self.chars[self.pos..].starts_with(&['?', ':']) {
                    self.pos += 2;
                }
                let alts = self.alternatives()?;
                if self.next()? != ')' {
                    return Err("unclosed group".into());
                }
                Node::Group(alts)
            }
            '[' => self.class()?,
            '\\' => self.escape()?,
            c @ ('*' | '+' | '?' | '{') => return Err(format!("nothing to repeat before `{c}`")),
            c => Node::Char(c),
        })
    }

    fn escape(&mut self) -> Result<Node, String> {
        let class = |ranges: &[(char, char)], negated| Node::Class {
            ranges: ranges.to_vec(),
            negated,
        };
        const DIGIT: &[(char, char)] = &[('0', '9')];
        const WORD: &[(char, char)] = &[('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')];
        const SPACE: &[(char, char)] = &[(' ', ' '), ('\t', '\r')];
        Ok(match self.next()? {
            'd' => class(DIGIT, false),
            'D' => class(DIGIT, true),
            'w' => class(WORD, false),
            'W' => class(WORD, true),
            's' => class(SPACE, false),
            'S' => class(SPACE, true),
            'n' => Node::Char('\n'),
            't' => Node::Char('\t'),
            c if c.is_ascii_alphanumeric() => return Err(format!("unsupported escape \\{c}")),
            c => Node::Char(c),
        })
    }

    fn class(&mut self) -> Result<Node, String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.next()?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' { self.next()? } else { c };
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let hi = self.next()?;
                let hi = if hi == '\\' { self.next()? } else { hi };
                if hi < lo {
                    return Err(format!("bad range {lo}-{hi}"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Node::Class { ranges, negated })
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('?') => (0, Some(1)),
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('{') => {
                self.pos += 1;
                let min = self.number()?;
                let max = match self.next()? {
                    '}' => return Ok(repeat(atom, min, Some(min))),
                    ',' if self.peek() == Some('}') => None,
                    ',' => Some(self.number()?),
                    c => return Err(format!("unexpected `{c}` in braces")),
                };
                if self.next()? != '}' {
                    return Err("unclosed braces".into());
                }
                return Ok(repeat(atom, min, max));
            }
            _ => return Ok(atom),
        };
        self.pos += 1;
        Ok(repeat(atom, min, max))
    }

    fn number(&mut self) -> Result<usize, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits
            .parse()
            .map_err(|_| "expected a number in braces".to_string())
    }
}

fn repeat(node: Node, min: usize, max: Option<usize>) -> Node {
    Node::Repeat {
        node: Box::new(node),
        min,
        max,
    }
}

/// Backtracking match of `seq` at `pos`; `k` is the continuation for what follows.
fn matches(seq: &[Node], input: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    let Some((first, rest)) = seq.split_first() else {
        return k(pos);
    };
    match first {
        Node::Start => pos == 0 && matches(rest, input, pos, k),
        Node::End => pos == input.len() && matches(rest, input, pos, k),
        Node::Group(alts) => alts
            .iter()
            .any(|alt| matches(alt, input, pos, &mut |p| matches(rest, input, p, k))),
        Node::Repeat { node, min, max } => repeat_match(node, *min, *max, 0, rest, input, pos, k),
        single => {
            input.get(pos).is_some_and(|&c| single_matches(single, c)) && matches(rest, input, pos + 1, k)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn repeat_match(
    node: &Node,
    min: usize,
    max: Option<usize>,
    count: usize,
    rest: &[Node],
    input: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    // Greedy: try one more repetition first; an empty repetition cannot loop.
    if max.is_none_or(|m| count < m)
        && matches(std::slice::from_ref(node), input, pos, &mut |p| {
            p != pos && repeat_match(node, min, max, count + 1, rest, input, p, k)
        })
    {
        return true;
    }
    count >= min && matches(rest, input, pos, k)
}

fn single_matches(node: &Node, c: char) -> bool {
    match node {
        Node::Char(x) => *x == c,
        Node::Any => c != '\n',
        Node::Class { ranges, negated } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, s: &str) -> bool {
        Pattern::new(p).unwrap().is_match(s)
    }

    #[test]
    fn period_pattern() {
        let p = "^(current_quarter|next_quarter|previous_quarter|current_month|[0-9]{4}-Q[1-4])$";
        for ok in ["current_quarter", "current_month", "2026-Q1", "1999-Q4"] {
            assert!(m(p, ok), "{ok}");
        }
        for bad in [
            "",
            "2026-Q5",
            "26-Q1",
            "2026-Q1 ",
            "xcurrent_quarter",
            "current_quarterx",
            "Q3",
        ] {
            assert!(!m(p, bad), "{bad}");
        }
    }

    #[test]
    fn unanchored_patterns_search() {
        assert!(m("b+c", "aabbbcd"));
        assert!(!m("b+c", "aacd"));
        assert!(m("^a", "abc"));
        assert!(!m("^b", "abc"));
    }

    #[test]
    fn quantifiers_and_classes() {
        assert!(m("^a{2,3}$", "aa"));
        assert!(m("^a{2,3}$", "aaa"));
        assert!(!m("^a{2,3}$", "aaaa"));
        assert!(m("^a{2,}$", "aaaaa"));
        assert!(m("^x?y*z+$", "zz"));
        assert!(m("^[^0-9]+$", "abc"));
        assert!(!m("^[^0-9]+$", "ab1"));
        assert!(m(r"^\d+\.\d$", "12.5"));
        assert!(m("^[a-zA-Z0-9_-]{1,64}$", "get_deal-2"));
        assert!(!m("^[a-zA-Z0-9_-]{1,64}$", "get deal"));
        assert!(m("^(a|ab)c$", "abc"));
        assert!(m("^(?:a*)*b$", "aaab"));
    }

    #[test]
    fn bad_patterns_are_rejected() {
        for bad in ["(", "[a-", "a{2", "*a", r"\q", "a)"] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
    }
}
