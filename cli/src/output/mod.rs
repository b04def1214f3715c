//! How results reach people and scripts: tables, JSON, progress on stderr, and formatting.

pub mod format;
pub mod json;
pub mod progress;
pub mod prompt;
pub mod table;

use std::io::Write;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people
    Table,
    /// Pretty JSON, the records as deployd answered them
    Json,
}

/// Writes to stdout and flushes; an error (a closed pipe) goes back to the caller instead of
/// panicking as `println!` would.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// [`print`] with a newline.
pub fn println(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `-q/--quiet` of a listing command: ids only, one per line, for `xargs` and `while read`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct QuietArg {
    /// Print only the ids, one per line, no header (wins over --output)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Prints each id on its own line; nothing at all when there are none.
pub fn print_ids<I, S>(ids: I) -> std::io::Result<()>
where
    I: IntoIterator<Item = S>,
    S: std::fmt::Display,
{
    let mut text = String::new();
    for id in ids {
        text.push_str(&id.to_string());
        text.push('\n');
    }
    print(&text)
}
