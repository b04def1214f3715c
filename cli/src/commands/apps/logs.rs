//! `functl apps logs APP [-f] [--tail N] [--since T]`: the app container's stdout and
//! stderr, from the agent of its node through deployd (the first step when an app does not
//! answer). The app's stdout goes to stdout, its stderr to stderr, as `docker logs` does.

use std::io::Write;

use clap::Args;
use protocol::agent::LogStream;
use protocol::app::AppLogsQuery;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output;

#[derive(Debug, Args)]
pub struct Cmd {
    /// The app id
    #[arg(value_name = "APP", value_parser = parse::id)]
    app: String,
    /// Keep printing new output until the container stops (Ctrl-C stops following)
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines [default: all]
    #[arg(long, value_name = "N")]
    tail: Option<u64>,
    /// Only output since T: a duration back from now (30s, 10m, 2h, 1d, 1h30m) or an RFC 3339
    /// time (2026-12-01T10:00:00Z)
    #[arg(long, value_name = "T", value_parser = since)]
    since: Option<i64>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let q = AppLogsQuery {
            tail: self.tail,
            since: self.since,
            follow: self.follow,
        };
        let mut reader = ctx.admin()?.app_logs(&self.app, &q).await?;
        loop {
            let next = tokio::select! {
                next = reader.next() => next?,
                _ = tokio::signal::ctrl_c() => return Ok(Exit::Interrupted),
            };
            let Some(chunk) = next else {
                return Ok(Exit::Success);
            };
            if ctx.json() {
                output::println(&serde_json::to_string(&chunk)?)?;
                if chunk.stream == LogStream::Error {
                    return Ok(Exit::Failure);
                }
                continue;
            }
            match chunk.stream {
                LogStream::Stdout => output::print(&chunk.text)?,
                LogStream::Stderr => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(chunk.text.as_bytes())?;
                    err.flush()?;
                }
                LogStream::Error => anyhow::bail!("{}", chunk.text),
            }
        }
    }
}

/// `--since`: a duration back from now or an RFC 3339 time, as Unix seconds.
fn since(value: &str) -> Result<i64, String> {
    since_at(value, chrono::Utc::now())
}

fn since_at(value: &str, now: protocol::Timestamp) -> Result<i64, String> {
    let text = value.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    let bad = || {
        format!(
            "{value:?} is neither a duration (30s, 10m, 2h, 1d, 1h30m) nor an RFC 3339 time (2026-12-01T10:00:00Z)"
        )
    };
    let back = match crate::duration::parse(text) {
        Ok(d) => d.as_secs(),
        Err(crate::duration::DurationError::Malformed) => return Err(bad()),
        Err(crate::duration::DurationError::TooLong) => u64::MAX,
    };
    let seconds = i64::try_from(back)
        .ok()
        .filter(|s| *s <= 100 * 365 * 86_400)
        .ok_or_else(|| format!("{value:?} reaches back too far"))?;
    Ok(now.timestamp() - seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_duration_back_from_now_or_a_time() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        let at = |v: &str| since_at(v, now);
        assert_eq!(at("10m"), Ok(now.timestamp() - 600));
        assert_eq!(at("1h30m"), Ok(now.timestamp() - 5400));
        assert_eq!(at("2d"), Ok(now.timestamp() - 172_800));
        assert_eq!(at("0s"), Ok(now.timestamp()));
        assert_eq!(
            at("2026-12-01T11:00:00Z"),
            Ok(now.timestamp() - 3600),
            "an RFC 3339 time"
        );
        assert_eq!(at("2026-12-01T12:00:00+01:00"), Ok(now.timestamp() - 3600));
    }

    #[test]
    fn since_refuses_what_is_neither() {
        for bad in [
            "",
            "10",
            "m",
            "10x",
            "-5m",
            "1.5h",
            "yesterday",
            "2026-12-01",
        ] {
            let e = since_at(bad, chrono::Utc::now()).unwrap_err();
            assert!(e.contains("neither a duration"), "{bad:?}: {e}");
        }
        assert!(
            since_at("99999999999d", chrono::Utc::now())
                .unwrap_err()
                .contains("too far")
        );
    }
}
