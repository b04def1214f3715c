//! functl in scripts and CI: `jobs wait` and `jobs logs -f` exit with the job's outcome,
//! `--timeout` gives up with exit 1 naming itself, `-q` prints ids only, and exit 3 means
//! "deployd unreachable or refused our credentials". Against a real deployd, and a real
//! runner and runtime agent where a job must run.

use std::process::Stdio;
use std::time::Duration;

use protocol::client::DeployClient;
use protocol::job::{Job, JobPayload, JobStatus};
use testkit::agentd::*;
use testkit::deployd::{ADMIN_TOKEN, DEPLOY_SECRET, TestDeployd};

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the functl binary against `url` with the test secrets, `env` overriding them.
async fn functl_at(url: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("FUNCTL_DEPLOY_URL", url)
        .env("FUNCTL_DEPLOY_SECRET", DEPLOY_SECRET)
        .env("FUNCTL_ADMIN_TOKEN", ADMIN_TOKEN)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), out)
        .await
        .unwrap_or_else(|_| panic!("functl {args:?} did not finish"))
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn functl(d: &TestDeployd, args: &[&str]) -> Run {
    functl_at(&d.url, &[], args).await
}

/// functl started now, in the background, so that it is already following when the job moves.
fn spawn_functl(d: &TestDeployd, args: &[String]) -> tokio::task::JoinHandle<Run> {
    let url = d.url.clone();
    let args = args.to_vec();
    tokio::spawn(async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        functl_at(&url, &[], &args).await
    })
}

fn payload(app: &str, image: &str) -> JobPayload {
    JobPayload {
        app_id: app.into(),
        user_id: Some("7".into()),
        image: Some(image.into()),
        ..Default::default()
    }
}

fn no_git() -> GitServer {
    GitServer {
        url: String::new(),
        repos: Default::default(),
        key: Default::default(),
        stranger_key: Default::default(),
        known_hosts: Default::default(),
        wrong_known_hosts: Default::default(),
    }
}

async fn job(c: &DeployClient, id: i64) -> Job {
    c.get_job(id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_wait_and_logs_follow_exit_with_the_jobs_outcome() {
    let Some(s) = services() else { return };
    let good = image(&s, "t-script", "serves", App::Serves("scripted")).await;
    let bad = image(&s, "t-script", "exits", App::Exits).await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let ok = create_job(&c, payload(&format!("ok{}", rand_hex()), &good)).await;
    let failed = create_job(&c, payload(&format!("ko{}", rand_hex()), &bad)).await;

    // No runner yet: the jobs stay PENDING, and waiting for them only gives up at --timeout.
    let run = functl(&d, &["jobs", "wait", &ok.id.to_string(), "--timeout", "1s"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(job(&c, ok.id).await.status, JobStatus::Pending);

    let cmd = |args: &[&str], id: i64| {
        let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        v.push(id.to_string());
        spawn_functl(&d, &v)
    };
    let wait_ok = cmd(&["jobs", "wait"], ok.id);
    let logs_ok = cmd(&["jobs", "logs", "-f"], ok.id);
    let wait_failed = cmd(&["jobs", "wait"], failed.id);
    let logs_failed = cmd(&["jobs", "logs", "-f"], failed.id);
    let runner = start_runner(&s, &no_git(), &d.url, "r-script", |_| {}).await;

    let (wait_ok, logs_ok) = (wait_ok.await.unwrap(), logs_ok.await.unwrap());
    let (wait_failed, logs_failed) = (wait_failed.await.unwrap(), logs_failed.await.unwrap());
    let ok = job(&c, ok.id).await;
    let failed = job(&c, failed.id).await;
    assert_eq!(ok.status, JobStatus::Succeeded, "{:?}", ok.error_message);
    assert_eq!(failed.status, JobStatus::Failed);

    // jobs wait: the outcome as exit code, one line with the final status on stdout.
    assert_eq!(wait_ok.code, 0, "{wait_ok:?}");
    let url = ok.deploy_url.clone().unwrap_or_default();
    assert_eq!(
        wait_ok.stdout,
        format!("job {} SUCCEEDED: {url}\n", ok.id),
        "{wait_ok:?}"
    );
    assert_eq!(wait_failed.code, 1, "{wait_failed:?}");
    assert_eq!(wait_failed.stdout.lines().count(), 1, "{wait_failed:?}");
    assert!(
        wait_failed
            .stdout
            .starts_with(&format!("job {} FAILED: ", failed.id)),
        "{wait_failed:?}"
    );

    // jobs logs -f: the whole log on stdout, then the job's outcome as exit code.
    assert_eq!(logs_ok.code, 0, "{logs_ok:?}");
    assert_eq!(logs_ok.stdout, follow_job(&c, ok.id).await.1, "{logs_ok:?}");
    assert_eq!(logs_failed.code, 1, "{logs_failed:?}");
    assert_eq!(
        logs_failed.stdout,
        follow_job(&c, failed.id).await.1,
        "{logs_failed:?}"
    );
    assert!(
        logs_failed
            .stderr
            .contains(&format!("job {} FAILED", failed.id)),
        "{logs_failed:?}"
    );

    // A job that already ended answers at once, the same way.
    let again = functl(&d, &["jobs", "wait", &failed.id.to_string()]).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert_eq!(again.stdout, wait_failed.stdout);
    runner.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_follows_to_the_outcome_and_every_listing_prints_only_ids_with_q() {
    let Some(s) = services() else { return };
    let good = image(&s, "t-script", "serves", App::Serves("scripted")).await;
    let bad = image(&s, "t-script", "exits", App::Exits).await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let runner = start_runner(&s, &no_git(), &d.url, "r-quiet", |_| {}).await;
    let app = format!("q{}", rand_hex());
    let broken = format!("qb{}", rand_hex());

    let run = functl(
        &d,
        &[
            "deploy",
            "--app",
            &app,
            "--user",
            "7",
            "--image",
            &good,
            "--wait",
            "--timeout",
            "10m",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("deployed: "), "{run:?}");
    let run = functl(
        &d,
        &[
            "deploy", "--app", &broken, "--user", "7", "--image", &bad, "--wait",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("FAILED"), "{run:?}");

    let jobs = c
        .list_jobs(&Default::default())
        .await
        .unwrap()
        .iter()
        .map(|j| j.id.to_string())
        .collect::<Vec<_>>();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let apps = c
        .apps()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.app_id)
        .collect::<Vec<_>>();
    assert!(apps.contains(&app), "{apps:?}");
    let lines = |ids: &[String]| ids.iter().map(|i| format!("{i}\n")).collect::<String>();
    for (args, want) in [
        (vec!["jobs", "list", "-q"], lines(&jobs)),
        (vec!["jobs", "list", "--quiet", "-o", "json"], lines(&jobs)),
        (vec!["apps", "list", "-q"], lines(&apps)),
        (
            vec!["nodes", "list", "-q"],
            lines(std::slice::from_ref(&rt.node)),
        ),
        (
            vec!["runners", "list", "-q"],
            lines(&["r-quiet".to_string()]),
        ),
    ] {
        let run = functl(&d, &args).await;
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        assert_eq!(run.stdout, want, "{args:?}: {run:?}");
        assert_eq!(run.stderr, "", "{args:?}: {run:?}");
    }
    // With a filter that matches nothing: no output at all, not even a header.
    let run = functl(&d, &["jobs", "list", "-q", "--app", "nothing-here"]).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
    runner.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_gives_up_with_exit_1_naming_itself_and_the_job_goes_on() {
    let d = testkit::deployd::start().await;
    let c = d.client();
    // No runner: the job stays PENDING for as long as the test runs.
    let pending = create_job(&c, payload("waited", "127.0.0.1:5000/funaistudio/w:v1")).await;
    let id = pending.id.to_string();
    let named = |run: &Run, timeout: &str, job: &str| {
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr.contains(&format!("--timeout {timeout}"))
                && run.stderr.contains(&format!("job {job}"))
                && run.stderr.contains("goes on"),
            "{run:?}"
        );
    };
    let run = functl(&d, &["jobs", "wait", &id, "--timeout", "1s"]).await;
    named(&run, "1s", &id);
    assert_eq!(run.stdout, "", "{run:?}");
    let run = functl(&d, &["jobs", "logs", "-f", &id, "--timeout", "1500ms"]).await;
    named(&run, "1500ms", &id);
    let run = functl(
        &d,
        &[
            "deploy",
            "--app",
            "waited2",
            "--user",
            "7",
            "--image",
            "127.0.0.1:5000/funaistudio/w:v2",
            "--wait",
            "--timeout",
            "1s",
        ],
    )
    .await;
    let created = c.list_jobs(&Default::default()).await.unwrap();
    let second = created
        .iter()
        .find(|j| j.app_id == "waited2")
        .map(|j| j.id.to_string())
        .unwrap_or_default();
    named(&run, "1s", &second);
    // Giving up did not touch the jobs.
    for j in &created {
        assert_eq!(j.status, JobStatus::Pending, "{j:?}");
        assert!(!j.cancel_requested, "{j:?}");
    }

    // A cancelled job is an outcome too: exit 1, one line.
    c.cancel_job(pending.id).await.unwrap();
    let run = functl(&d, &["jobs", "wait", &id]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("job {id} CANCELLED: cancelled before a runner claimed it\n")
    );

    // A duration without unit, zero, or --timeout where nothing is followed: usage, exit 2.
    for args in [
        vec!["jobs", "wait", &id, "--timeout", "90"],
        vec!["jobs", "wait", &id, "--timeout", "0s"],
        vec!["jobs", "logs", &id, "--timeout", "1m"],
        vec!["deploy", "--app", "x", "--image", "i:1", "--timeout", "1m"],
        vec!["rollback", "--app", "x", "--no-wait", "--timeout", "1m"],
    ] {
        let run = functl(&d, &args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("--timeout"), "{args:?}: {run:?}");
    }
    let run = functl(&d, &["jobs", "wait", &id, "--timeout", "90"]).await;
    assert!(run.stderr.contains("like 90s, 10m or 1h30m"), "{run:?}");
    // An unknown job is a plain failure, not a wait.
    let run = functl(&d, &["jobs", "wait", "999999"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("404"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_3_when_deployd_is_not_listening_or_refuses_our_credentials() {
    // A port that was just free: nothing listens on it.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for args in [
        vec!["jobs", "list"],
        vec!["jobs", "wait", "1"],
        vec!["jobs", "logs", "-f", "1"],
        vec!["nodes", "list", "-q"],
        vec!["deploy", "--app", "a", "--image", "i:1", "--wait"],
    ] {
        let run = functl_at(&closed, &[], &args).await;
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("cannot reach deployd"),
            "{args:?}: {run:?}"
        );
        assert_eq!(run.stdout, "", "{args:?}: {run:?}");
    }

    let d = testkit::deployd::start().await;
    let wrong_secret = [("FUNCTL_DEPLOY_SECRET", "not-the-secret")];
    let wrong_token = [("FUNCTL_ADMIN_TOKEN", "not-the-token")];
    for (env, args) in [
        (&wrong_secret, vec!["jobs", "list", "-q"]),
        (&wrong_secret, vec!["jobs", "wait", "1"]),
        (&wrong_token, vec!["nodes", "list"]),
        (&wrong_token, vec!["apps", "list", "-q"]),
    ] {
        let run = functl_at(&d.url, env, &args).await;
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        assert!(run.stderr.contains("401"), "{args:?}: {run:?}");
        assert!(
            !run.stderr.contains("not-the-"),
            "a secret was printed: {run:?}"
        );
    }
    // deployd reached with the right credentials, refusing something else: exit 1.
    let run = functl(&d, &["jobs", "show", "424242"]).await;
    assert_eq!(run.code, 1, "{run:?}");
}

#[test]
fn exit_code_3_is_documented_in_help_and_man_page() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_functl"))
        .arg("--help")
        .output()
        .unwrap();
    // clap wraps the text to the width of the terminal (or its default): read it as words.
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains("3 deployd unreachable or refused our credentials"),
        "{help}"
    );
    let man = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../man");
    for page in ["functl.1", "functl-jobs-wait.1", "functl-deploy.1"] {
        let text = std::fs::read_to_string(man.join(page)).unwrap();
        assert!(
            text.contains("\\fB3\\fR\ndeployd could not be reached"),
            "{page} does not list exit code 3"
        );
    }
}
