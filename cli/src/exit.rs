//! Exit codes that scripts can trust: 0 ok, 1 failed, 2 usage, 3 deployd unreachable or
//! refusing our credentials; and the one place errors print.

use std::process::ExitCode;

use protocol::client::ClientError;

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit 0.
    Success,
    /// Exit 1: the thing asked for did not happen (a job failed or was cancelled).
    Failure,
    /// Exit 130: Ctrl-C while following; the job itself goes on.
    Interrupted,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Interrupted => ExitCode::from(130),
        }
    }
}

/// The command line was wrong or incomplete: exit 2, like clap's own errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] as the `anyhow::Error` commands return.
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Prints the error, if any, and picks the exit code.
pub fn finish(result: anyhow::Result<Exit>) -> ExitCode {
    let err = match result {
        Ok(exit) => return exit.into(),
        Err(err) => err,
    };
    // A reader that went away (`functl jobs logs 12 | head`) is not a failure.
    if is_broken_pipe(&err) {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", describe(&err));
    if is_usage(&err) {
        ExitCode::from(2)
    } else if is_unreachable(&err) {
        ExitCode::from(UNREACHABLE)
    } else {
        ExitCode::from(1)
    }
}

/// Exit 3: deployd could not be reached (connection refused or reset, timeout, DNS) or
/// refused our credentials (401, 403), so a script can tell "retry or fix the config" from
/// "the thing asked for failed".
pub const UNREACHABLE: u8 = 3;

fn is_unreachable(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<ClientError>().is_some_and(unreachable))
}

fn unreachable(err: &ClientError) -> bool {
    match err {
        // A URL that cannot even be built is the configuration's fault, not the network's.
        ClientError::Transport { source, .. } => !source.is_builder(),
        // deployd answers 401 and 403 only from its credential checks.
        ClientError::Api { status, .. } => matches!(status, 401 | 403),
        _ => false,
    }
}

fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<UsageError>()
            || e.is::<protocol::config::ConfigError>()
            || matches!(
                e.downcast_ref::<ClientError>(),
                Some(ClientError::MissingCredential(_))
            )
    })
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `{err:#}`, without repeating a cause that an outer message already quotes (the client's
/// transport error carries its source in its own words).
fn describe(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = match cause.downcast_ref::<ClientError>() {
            Some(ClientError::MissingCredential(what)) => {
                crate::config::missing_credential_hint(what)
            }
            _ => cause.to_string(),
        };
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
