//! `.dockerignore` read as the Docker CLI reads it (moby's `ignorefile` and
//! `patternmatcher`): patterns in order, the last one that matches a path or one of its
//! parents wins, `!` re-includes, `**` crosses folders, a leading `/` means the context root.

/// One line of the file, compiled.
#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned text, as Docker keeps it (used to decide whether to enter a folder).
    text: String,
    exclusion: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `[...]`: one character of a class (`^` negates, `a-z` ranges).
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    /// `**` followed by more pattern (a following `/` eaten): nothing, or anything ending in `/`.
    AnyDirs,
    /// `**` at the end: anything at all.
    Rest,
}

/// The patterns of a context's `.dockerignore`, in file order.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, thiserror::Error)]
#[error(".dockerignore line {line}: {message}")]
pub struct PatternError {
    pub line: usize,
    pub message: String,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore`.
    pub fn parse(text: &str) -> Result<DockerIgnore, PatternError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            // A comment is a line that starts with '#', before any trimming (as Docker).
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let (exclusion, rest) = match line.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (false, line),
            };
            if exclusion && rest.is_empty() {
                return Err(PatternError {
                    line: i + 1,
                    message: "illegal exclusion pattern: \"!\"".into(),
                });
            }
            let mut cleaned = clean(rest);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let tokens = compile(&cleaned).map_err(|message| PatternError {
                line: i + 1,
                message,
            })?;
            patterns.push(Pattern {
                text: cleaned,
                exclusion,
                tokens,
            });
        }
        Ok(DockerIgnore { patterns })
    }

    /// Adds `!path` at the end, as the Docker CLI does for the Dockerfile and the
    /// `.dockerignore` itself (the engine needs both, whatever the file says).
    pub fn keep(&mut self, path: &str) {
        if self.is_excluded(path) {
            let text = clean(path);
            if let Ok(tokens) = compile(&text) {
                self.patterns.push(Pattern {
                    text,
                    exclusion: true,
                    tokens,
                });
            }
        }
    }

    /// Whether `rel` (relative to the context, `/`-separated) stays out of the context:
    /// the last pattern matching it or one of its parent folders decides.
    pub fn is_excluded(&self, rel: &str) -> bool {
        let parents: Vec<&str> = rel.match_indices('/').map(|(i, _)| &rel[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // An exclusion can only flip an excluded path back, and an ordinary pattern
            // only an included one.
            if p.exclusion != excluded {
                continue;
            }
            let hit = matches(&p.tokens, rel) || parents.iter().any(|d| matches(&p.tokens, d));
            if hit {
                excluded = !p.exclusion;
            }
        }
        excluded
    }

    /// Whether an excluded folder must still be entered because an exception names
    /// something inside it (Docker's rule: an exception's text starts with the folder).
    pub fn may_keep_inside(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&prefix))
    }
}

/// Go's `filepath.Clean` on a `/`-separated path.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            s => out.push(s),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

fn compile(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i == chars.len() {
                    Token::Rest
                } else {
                    Token::AnyDirs
                });
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::One),
            '\\' => match chars.get(i) {
                Some(&n) => {
                    tokens.push(Token::Char(n));
                    i += 1;
                }
                None => tokens.push(Token::Char('\\')),
            },
            '[' => {
                let mut negated = false;
                if chars.get(i) == Some(&'^') {
                    negated = true;
                    i += 1;
                }
                let mut items = Vec::new();
                let mut closed = false;
                let mut first = true;
                while i < chars.len() {
                    let mut a = chars[i];
                    i += 1;
                    if a == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    if a == '\\' && i < chars.len() {
                        a = chars[i];
                        i += 1;
                    }
                    if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&b| b != ']') {
                        let b = chars[i + 1];
                        i += 2;
                        if b < a {
                            return Err(format!("invalid range {a}-{b} in {pattern:?}"));
                        }
                        items.push((a, b));
                    } else {
                        items.push((a, a));
                    }
                }
                if !closed {
                    return Err(format!("unclosed character class in {pattern:?}"));
                }
                tokens.push(Token::Class { negated, items });
            }
            c => tokens.push(Token::Char(c)),
        }
    }
    Ok(tokens)
}

/// Whether the tokens match the whole of `s` (Docker anchors its expression at both ends).
fn matches(tokens: &[Token], s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    match_at(tokens, &chars)
}

fn match_at(tokens: &[Token], s: &[char]) -> bool {
    let Some((t, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match t {
        Token::Char(c) => s.first() == Some(c) && match_at(rest, &s[1..]),
        Token::One => s.first().is_some_and(|&c| c != '/') && match_at(rest, &s[1..]),
        Token::Class { negated, items } => {
            s.first().is_some_and(|&c| {
                let inside = items.iter().any(|&(a, b)| a <= c && c <= b);
                inside != *negated
            }) && match_at(rest, &s[1..])
        }
        Token::Star => {
            // Any run without '/': try each length.
            let mut n = 0;
            loop {
                if match_at(rest, &s[n..]) {
                    return true;
                }
                if n == s.len() || s[n] == '/' {
                    return false;
                }
                n += 1;
            }
        }
        Token::AnyDirs => {
            // Nothing, or any prefix that ends in '/'.
            if match_at(rest, s) {
                return true;
            }
            (0..s.len()).any(|i| s[i] == '/' && match_at(rest, &s[i + 1..]))
        }
        Token::Rest => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn di(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn patterns_match_as_docker_matches_them() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("**/*.md", "docs/a/README.md", true),
            ("**/*.md", "README.md", true),
            ("docs", "docs/a/b.txt", true),
            ("/docs", "docs/a/b.txt", true),
            ("./docs/", "docs/x", true),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/xb", false),
            ("a/**", "a/x/y", true),
            ("**", "anything/at/all", true),
            ("fo?", "foo", true),
            ("fo?", "fo/", false),
            ("[a-c]at", "bat", true),
            ("[^a-c]at", "bat", false),
            ("[^a-c]at", "rat", true),
            ("a/*/c", "a/b/c", true),
            ("a/*/c", "a/b/x/c", false),
            ("x/../y", "y", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
        ];
        for (pat, path, want) in cases {
            assert_eq!(di(pat).is_excluded(path), *want, "{pat:?} on {path:?}");
        }
    }

    #[test]
    fn the_last_matching_pattern_wins_and_exceptions_reinclude() {
        let d = di(
            "# comment\n  \nnode_modules\n*.env\n!keep.env\nbuild/\n!build/out/app.bin\nbuild/out/app.bin.map\n",
        );
        assert!(d.is_excluded("node_modules/a/b.js"));
        assert!(d.is_excluded("x.env"));
        assert!(!d.is_excluded("keep.env"));
        assert!(d.is_excluded("build/tmp.o"));
        assert!(!d.is_excluded("build/out/app.bin"));
        assert!(d.is_excluded("build/out/app.bin.map"));
        assert!(d.may_keep_inside("build"));
        assert!(d.may_keep_inside("build/out"));
        assert!(!d.may_keep_inside("node_modules"));
        // An exception before the exclusion that covers it is overridden by it.
        let d = di("!keep.env\n*.env\n");
        assert!(d.is_excluded("keep.env"));
        // A bare "!" is refused, as Docker refuses it.
        assert!(DockerIgnore::parse("a\n!\n").is_err());
    }

    #[test]
    fn the_dockerfile_and_the_ignore_file_are_kept_whatever_the_file_says() {
        let mut d = di("*\n");
        d.keep(".dockerignore");
        d.keep("docker/Dockerfile");
        assert!(!d.is_excluded(".dockerignore"));
        assert!(!d.is_excluded("docker/Dockerfile"));
        assert!(d.is_excluded("docker/other"));
        assert!(d.may_keep_inside("docker"));
    }
}
