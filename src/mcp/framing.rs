//! Newline-delimited framing for stdin: one JSON-RPC message per line, with a
//! hard bound on line length so a runaway writer cannot make us buffer without limit.

use std::io::{self, BufRead};

/// What the reader produced for one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its `\n` or trailing `\r`.
    Line(Vec<u8>),
    /// A line longer than the bound; its bytes were discarded, not buffered.
    TooLong { len: usize },
}

/// Reads frames from a buffered reader. Blank lines are skipped.
pub struct LineReader<R> {
    inner: R,
    max_len: usize,
}

/// The bound on one message line (mcp-notes.md: ours, 8 MiB).
pub const MAX_LINE: usize = 8 * 1024 * 1024;

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max_len: usize) -> Self {
        LineReader { inner, max_len }
    }

    /// The next non-blank frame, or `None` at end of input.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            match self.read_one()? {
                None => return Ok(None),
                Some(Frame::Line(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Some(frame) => return Ok(Some(frame)),
            }
        }
    }

    fn read_one(&mut self) -> io::Result<Option<Frame>> {
        let mut line = Vec::new();
        let mut discarded = 0usize;
        let mut saw_any = false;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                // EOF: a final line without `\n` still counts.
                if !saw_any {
                    return Ok(None);
                }
                return Ok(Some(self.finish(line, discarded)));
            }
            saw_any = true;
            let (chunk, found_newline) = match memchr_newline(buf) {
                Some(i) => (&buf[..i], true),
                None => (buf, false),
            };
            let take = chunk.len();
            if discarded > 0 || line.len() + take > self.max_len {
                // Over the bound: count, never keep.
                discarded += line.len() + take;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
            self.inner.consume(take + usize::from(found_newline));
            if found_newline {
                return Ok(Some(self.finish(line, discarded)));
            }
        }
    }

    fn finish(&self, mut line: Vec<u8>, discarded: usize) -> Frame {
        if discarded > 0 {
            return Frame::TooLong { len: discarded };
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Frame::Line(line)
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize, cap: usize) -> Vec<Frame> {
        let reader = io::BufReader::with_capacity(cap, input);
        let mut r = LineReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            out.push(f);
        }
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn splits_lines_and_strips_cr() {
        let got = frames(b"a\r\nb\nc", 100, 2);
        assert_eq!(got, vec![line("a"), line("b"), line("c")]);
    }

    #[test]
    fn skips_blank_lines() {
        let got = frames(b"\n\r\n  \nx\n\n", 100, 3);
        assert_eq!(got, vec![line("x")]);
    }

    #[test]
    fn over_long_line_is_reported_and_the_next_line_survives() {
        let mut input = vec![b'y'; 50];
        input.extend_from_slice(b"\nok\n");
        for cap in [1, 7, 64] {
            let got = frames(&input, 10, cap);
            assert_eq!(got, vec![Frame::TooLong { len: 50 }, line("ok")], "cap {cap}");
        }
    }

    #[test]
    fn line_exactly_at_the_bound_is_kept() {
        let got = frames(b"0123456789\n", 10, 4);
        assert_eq!(got, vec![line("0123456789")]);
    }

    #[test]
    fn over_long_final_line_without_newline() {
        let got = frames(b"ok\nxxxxxxxxxxxxxxxx", 10, 4);
        assert_eq!(got, vec![line("ok"), Frame::TooLong { len: 16 }]);
    }
}
