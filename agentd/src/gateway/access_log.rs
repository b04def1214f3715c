//! `[runtime.gateway] access_log`: one JSON line per answer (a WebSocket when it closes),
//! off by default. The path may hold `{appId}` for one file per app; `-` is standard output.
//! Lines go through a bounded queue to one writer task, so a slow disk never holds a
//! request: when the queue is full a line is dropped and counted. Paths are logged without
//! their query (it may carry tokens).

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use axum::http::Request;
use serde::Serialize;
use tokio::sync::mpsc;

/// Lines waiting for the writer at most.
const QUEUE: usize = 8192;
/// Per-app files held open at most; more are closed and opened again when written to.
const OPEN_FILES: usize = 256;

/// One answer as the log says it.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub time: String,
    pub app: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Bytes of the answer's body (of a WebSocket: what went to the client).
    pub bytes: u64,
    /// From the request to the answer's last byte (of a WebSocket: to its close).
    pub ms: f64,
    pub peer: IpAddr,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub upgrade: bool,
    #[serde(skip)]
    started: Option<Instant>,
}

impl Entry {
    pub(super) fn new<B>(app: &str, req: &Request<B>, peer: SocketAddr) -> Entry {
        Entry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            app: app.to_string(),
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            status: 0,
            bytes: 0,
            ms: 0.0,
            peer: peer.ip().to_canonical(),
            upgrade: req.headers().contains_key(axum::http::header::UPGRADE),
            started: Some(Instant::now()),
        }
    }

    pub(super) fn finish(&mut self) {
        if let Some(t) = self.started.take() {
            self.ms = (t.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        }
    }
}

/// Where lines go, for the writer.
enum Target {
    Stdout,
    One(PathBuf),
    PerApp(String),
}

#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<Entry>,
    reopen: Arc<AtomicBool>,
    pub dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

impl AccessLog {
    /// Starts the writer for `path` (`-`, a file, or a path with `{appId}`). The directory
    /// of a single file must exist; per-app files get theirs made.
    pub fn start(path: &str) -> Result<AccessLog, String> {
        let target = if path == "-" {
            Target::Stdout
        } else if path.contains("{appId}") {
            Target::PerApp(path.to_string())
        } else {
            let p = PathBuf::from(path);
            open(&p).map_err(|e| format!("cannot open the access log {path}: {e}"))?;
            Target::One(p)
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let reopen = Arc::new(AtomicBool::new(false));
        let flag = reopen.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(target, rx, flag))
            .map_err(|e| format!("cannot start the access log writer: {e}"))?;
        Ok(AccessLog {
            tx,
            reopen,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    pub(super) fn write(&self, entry: Entry) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Closes the files and opens them again on the next line (after a log rotation).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::SeqCst);
    }
}

fn open(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// An app id as a file name: what is not a letter, digit, `-`, `_` or `.` becomes `_`.
fn file_safe(app: &str) -> String {
    let s: String = app
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

/// The writer thread: takes what is queued, writes it, flushes, until every sender is gone.
fn writer(target: Target, mut rx: mpsc::Receiver<Entry>, reopen: Arc<AtomicBool>) {
    let mut files: HashMap<PathBuf, std::io::BufWriter<std::fs::File>> = HashMap::new();
    let mut stdout = std::io::BufWriter::new(std::io::stdout());
    while let Some(first) = rx.blocking_recv() {
        if reopen.swap(false, Ordering::SeqCst) {
            flush_all(&mut files, &mut stdout);
            files.clear();
        }
        // Everything queued now goes in one write per file.
        let mut batch = vec![first];
        while let Ok(e) = rx.try_recv() {
            batch.push(e);
        }
        for e in batch {
            let mut line = serde_json::to_vec(&e).unwrap_or_default();
            line.push(b'\n');
            let path = match &target {
                Target::Stdout => {
                    let _ = stdout.write_all(&line);
                    continue;
                }
                Target::One(p) => p.clone(),
                Target::PerApp(t) => PathBuf::from(t.replace("{appId}", &file_safe(&e.app))),
            };
            if !files.contains_key(&path) {
                if files.len() >= OPEN_FILES {
                    flush_all(&mut files, &mut stdout);
                    files.clear();
                }
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                match open(&path) {
                    Ok(f) => {
                        files.insert(path.clone(), std::io::BufWriter::new(f));
                    }
                    Err(err) => {
                        tracing::warn!(path = %path.display(), error = %err, "cannot open the access log");
                        continue;
                    }
                }
            }
            if let Some(f) = files.get_mut(&path) {
                let _ = f.write_all(&line);
            }
        }
        flush_all(&mut files, &mut stdout);
    }
    flush_all(&mut files, &mut stdout);
}

fn flush_all(
    files: &mut HashMap<PathBuf, std::io::BufWriter<std::fs::File>>,
    stdout: &mut std::io::BufWriter<std::io::Stdout>,
) {
    for f in files.values_mut() {
        let _ = f.flush();
    }
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_become_file_names_that_stay_in_their_directory() {
        assert_eq!(file_safe("20002"), "20002");
        assert_eq!(file_safe("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_safe("a b/c"), "a_b_c");
    }
}
