//! Redeploying an image an app already ran (rollback, migration): a stage 1 job that keeps
//! the app's port, base path, health path and environment from its latest job.

use std::time::Duration;

use protocol::app::AppRun;
use protocol::client::DeployClient;

use crate::commands::jobs;
use protocol::job::{CreateJobRequest, Job, JobPayload, JobType};

/// The stage 1 payload that puts `image` back on `app`.
pub async fn payload(
    client: &DeployClient,
    app: &AppRun,
    image: &str,
) -> anyhow::Result<JobPayload> {
    let jobs = client.jobs_by_app(&app.app_id, Some(20)).await?;
    let template = jobs
        .iter()
        .find(|j| j.image.as_deref() == Some(image) || j.payload.image.as_deref() == Some(image))
        .or_else(|| jobs.first())
        .map(|j| j.payload.clone());
    let mut p = JobPayload {
        app_id: app.app_id.clone(),
        user_id: app.user_id.clone(),
        image: Some(image.to_string()),
        ..Default::default()
    };
    if let Some(t) = template {
        p.container_port = t.container_port;
        p.base_path = t.base_path;
        p.health_path = t.health_path;
        p.env = t.env;
        if p.user_id.is_none() {
            p.user_id = t.user_id;
        }
    }
    Ok(p)
}

pub async fn create(client: &DeployClient, payload: JobPayload) -> anyhow::Result<Job> {
    Ok(client
        .create_job(&CreateJobRequest {
            job_type: JobType::BuildAndDeploy,
            payload,
        })
        .await?)
}

/// Waits without output until the job ends, at most `limit`.
pub async fn wait(client: &DeployClient, id: i64, limit: Duration) -> anyhow::Result<Job> {
    match tokio::time::timeout(limit, jobs::wait::until_end(client, id)).await {
        Ok(job) => job,
        Err(_) => anyhow::bail!(
            "job {id} did not end within {} s; the job itself goes on: functl jobs wait {id}",
            limit.as_secs()
        ),
    }
}

/// The tag of an image reference (`repo:tag` → `tag`).
pub fn tag_of(image: &str) -> &str {
    match image.rsplit_once(':') {
        Some((_, t)) if !t.contains('/') => t,
        _ => image,
    }
}
