//! Confirmation before destructive actions: asked on a terminal, `--yes` required without one.

use std::io::{BufRead, IsTerminal, Write};

use crate::exit::usage_error;

/// Whether to go ahead with `action` (e.g. "remove node rt-01"): at once with `--yes`; else
/// asked as `question [y/N]` when stdin is a terminal; else a usage error naming `--yes`.
pub fn confirm(action: &str, question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage_error(format!(
            "refusing to {action} without confirmation: no terminal to ask on, pass --yes"
        )));
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
