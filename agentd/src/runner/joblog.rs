//! Streams a job's output to deployd as it happens: offset appends, batched, resent from
//! the server's offset when deployd answers 416.

use std::time::Duration;

use protocol::client::{ClientError, DeployClient};
use tokio::sync::mpsc;

/// Most bytes one append carries.
const BATCH: usize = 64 * 1024;
/// How long output may sit before it is sent.
const LINGER: Duration = Duration::from_millis(150);

#[derive(Clone)]
pub struct JobLog {
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

pub struct JobLogTask {
    handle: tokio::task::JoinHandle<()>,
}

impl JobLog {
    /// Starts the sender; appends begin at `start` (what deployd already holds for the job).
    pub fn start(client: DeployClient, job_id: i64, start: i64) -> (JobLog, JobLogTask) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = tokio::spawn(sender(client, job_id, start, rx));
        (JobLog { tx }, JobLogTask { handle })
    }

    pub fn line(&self, text: &str) {
        let mut b = text.as_bytes().to_vec();
        if !text.ends_with('\n') {
            b.push(b'\n');
        }
        let _ = self.tx.send(b);
    }

    /// Raw output (build steps carry their own newlines).
    pub fn raw(&self, text: &str) {
        let _ = self.tx.send(text.as_bytes().to_vec());
    }
}

impl JobLogTask {
    /// Sends what is left once every [`JobLog`] handle is dropped.
    pub async fn finish(self) {
        let _ = self.handle.await;
    }
}

async fn sender(
    client: DeployClient,
    job_id: i64,
    start: i64,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut offset = start;
    let mut pending: Vec<u8> = Vec::new();
    let mut open = true;
    while open || !pending.is_empty() {
        if pending.is_empty() {
            match rx.recv().await {
                Some(b) => pending.extend(b),
                None => open = false,
            }
        }
        // Gather what arrives within the linger window, up to a batch.
        let deadline = tokio::time::Instant::now() + LINGER;
        while open && pending.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(b)) => pending.extend(b),
                Ok(None) => open = false,
                Err(_) => break,
            }
        }
        if pending.is_empty() {
            continue;
        }
        let n = pending.len().min(BATCH);
        let chunk: Vec<u8> = pending[..n].to_vec();
        let mut tries = 0;
        loop {
            match client.append_log(job_id, offset, chunk.clone()).await {
                Ok(ans) => {
                    offset = ans.length;
                    pending.drain(..n);
                    break;
                }
                Err(ClientError::LogRange { server_length }) if tries < 3 => {
                    // deployd holds a different length (an earlier attempt wrote, or an
                    // append was lost): continue from its end.
                    tracing::debug!(
                        job = job_id,
                        ours = offset,
                        server = server_length,
                        "log offset realigned"
                    );
                    offset = server_length;
                    tries += 1;
                }
                Err(e) if tries < 3 => {
                    tracing::warn!(job = job_id, error = %e, "log append failed; retrying");
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => {
                    tracing::warn!(job = job_id, error = %e, "log append failed; dropping {} bytes", n);
                    pending.drain(..n);
                    break;
                }
            }
        }
    }
}
