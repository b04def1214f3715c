//! Progress of a job on stderr: an indicatif spinner on a terminal, plain lines otherwise,
//! so that logs and pipes never receive control characters.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub enum PhaseDisplay {
    Spinner(ProgressBar),
    Plain { last: Option<String> },
}

impl PhaseDisplay {
    /// A spinner when stderr is a terminal, plain `phase BUILD` lines otherwise.
    pub fn for_stderr(job_id: i64) -> PhaseDisplay {
        if !std::io::stderr().is_terminal() {
            return PhaseDisplay::Plain { last: None };
        }
        let mut bar = ProgressBar::new_spinner()
            .with_prefix(format!("job {job_id}"))
            .with_message("PENDING, waiting for a runner");
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})") {
            bar = bar.with_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        PhaseDisplay::Spinner(bar)
    }

    /// Shows where the job is: its status, and its phase while it runs.
    pub fn update(&mut self, status: &str, phase: Option<&str>) {
        match self {
            PhaseDisplay::Spinner(bar) => {
                let msg = match (status, phase) {
                    ("RUNNING", Some(p)) => format!("{status} {p}"),
                    ("PENDING", _) => "PENDING, waiting for a runner".to_string(),
                    _ => status.to_string(),
                };
                bar.set_message(msg);
            }
            PhaseDisplay::Plain { last } => {
                let Some(p) = phase else { return };
                if last.as_deref() != Some(p) {
                    let _ = writeln!(std::io::stderr(), "phase {p}");
                    *last = Some(p.to_string());
                }
            }
        }
    }

    /// Runs `f` (which writes to stdout) with the spinner out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match self {
            PhaseDisplay::Spinner(bar) => bar.suspend(f),
            PhaseDisplay::Plain { .. } => f(),
        }
    }

    pub fn finish(&self) {
        if let PhaseDisplay::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Drop for PhaseDisplay {
    fn drop(&mut self) {
        self.finish();
    }
}
