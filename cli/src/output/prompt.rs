//! Confirmation before destructive actions: asked on a terminal, `--yes` required without one.

use std::io::IsTerminal;

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
    let answer = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_on(&dialoguer::console::Term::stderr())
        .map_err(|e| anyhow::anyhow!("cannot ask for confirmation: {e}"))?;
    Ok(answer)
}
