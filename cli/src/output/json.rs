//! `--output json`: pretty JSON on stdout, one document per command.

use serde::Serialize;

pub fn print<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    super::println(&text)?;
    Ok(())
}
