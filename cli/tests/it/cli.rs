//! functl as an operator runs it: the real binary against a real deployd in-process,
//! tables and JSON snapshotted, exit codes asserted.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use protocol::client::DeployClient;
use protocol::job::{
    ClaimRequest, CreateJobRequest, HeartbeatRequest, Job, JobPayload, JobStatus, JobType,
    ReportRequest,
};
use protocol::node::NodeHeartbeat;
use testkit::deployd::{self as testing, TestDeployd};

/// Everything a run of functl left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// How a test points functl at deployd.
struct Env<'a> {
    vars: Vec<(&'a str, String)>,
    home: std::path::PathBuf,
}

impl<'a> Env<'a> {
    /// `HOME` in the deployd's temp dir, URL and both secrets in the environment.
    fn of(d: &TestDeployd) -> Env<'a> {
        let home = d.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Env {
            vars: vec![
                ("FUNCTL_DEPLOY_URL", d.url.clone()),
                ("FUNCTL_DEPLOY_SECRET", testing::DEPLOY_SECRET.to_string()),
                ("FUNCTL_ADMIN_TOKEN", testing::ADMIN_TOKEN.to_string()),
            ],
            home,
        }
    }

    fn without(mut self, var: &str) -> Self {
        self.vars.retain(|(k, _)| *k != var);
        self
    }

    fn with(mut self, var: &'a str, value: &str) -> Self {
        self.vars.retain(|(k, _)| *k != var);
        self.vars.push((var, value.to_string()));
        self
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"));
        cmd.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .envs(self.vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Starts functl now; the future owns everything, so it can run beside a fake runner.
    fn run(&self, args: &[&str]) -> impl std::future::Future<Output = Run> + 'static {
        let mut cmd = self.command(args);
        let label = format!("{args:?}");
        async move {
            let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
                .await
                .unwrap_or_else(|_| panic!("functl {label} did not finish within 60 s"))
                .expect("cannot run functl");
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
    }
}

async fn functl(d: &TestDeployd, args: &[&str]) -> Run {
    Env::of(d).run(args).await
}

/// Redacts what changes from run to run: times, ages and the test server's port.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            filters => vec![
                // JSON strings carry sub-second times (or not, on a whole second); tables
                // cut them to the second, and a same-width placeholder keeps the alignment.
                (r#""\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})""#, r#""[TIME]""#),
                (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "YYYY-MM-DDTHH:MM:SSZ"),
                (r"\b\ds ago\b", "Ns ago"),
                (r"\b\d+[smhd] ago\b", "[AGE]"),
                (r"http://127\.0\.0\.1:\d+", "[DEPLOYD]"),
                // `apps show` probes the app's public URL and asks its node from this
                // machine: what answers there (and how the resolver words a failure) is the
                // machine's, not functl's.
                (r"PROBE( +)[^\n]*", "PROBE$1[PROBE]"),
                (r#""probe": \{[^}]*\}"#, r#""probe": "[PROBE]""#),
                (r"(unreachable at http://[^:]+:\d+): [^\n\x22]*", "$1: [CAUSE]"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

// ---- seeding through the typed client, as the runner and the runtime agent would ----

const RUNNER: &str = "runner-01";
const AGENT_VERSION: &str = "0.1.0 (2657bbe)";

async fn heartbeat_node(c: &DeployClient, name: &str, pct: f64, free: i64, containers: i64) {
    c.node_heartbeat(&NodeHeartbeat {
        node_name: name.to_string(),
        agent_base_url: format!("http://{name}.internal:7005"),
        gateway_base_url: "http://203.0.113.10".to_string(),
        disk_free_pct: pct,
        disk_free_bytes: free,
        container_count: containers,
        checks: None,
        // rt-01 runs a current agent on podman; the others an older one that sends no
        // version and names no engine.
        agent_version: (name == "rt-01").then(|| AGENT_VERSION.to_string()),
        apps: None,
        engine: (name == "rt-01").then(|| protocol::node::EngineInfo {
            kind: "podman".into(),
            version: "4.3.1".into(),
            api_version: "1.41".into(),
        }),
    })
    .await
    .expect("node heartbeat");
}

async fn create(c: &DeployClient, payload: JobPayload) -> Job {
    c.create_job(&CreateJobRequest {
        job_type: JobType::BuildAndDeploy,
        payload,
    })
    .await
    .expect("create job")
}

fn image_payload(app: &str, user: &str, image: &str) -> JobPayload {
    JobPayload {
        app_id: app.to_string(),
        user_id: Some(user.to_string()),
        image: Some(image.to_string()),
        ..Default::default()
    }
}

/// Claims the next job, long-polling up to `wait` seconds at a time until one comes.
async fn claim(c: &DeployClient, wait: i64) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = c
            .claim(&ClaimRequest {
                runner_id: RUNNER.to_string(),
                lease_seconds: 60,
                wait_seconds: wait,
                agent_version: Some(AGENT_VERSION.to_string()),
            })
            .await
            .expect("claim");
        if let Some(job) = got {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no job to claim within 30 s"
        );
    }
}

async fn phase(c: &DeployClient, id: i64, phase: &str) {
    c.heartbeat(
        id,
        &HeartbeatRequest {
            runner_id: RUNNER.to_string(),
            extend_seconds: Some(60),
            phase: Some(phase.to_string()),
            phase_message: None,
        },
    )
    .await
    .expect("heartbeat");
}

async fn append(c: &DeployClient, id: i64, start: i64, text: &str) -> i64 {
    c.append_log(id, start, text.as_bytes().to_vec())
        .await
        .expect("append log")
        .length
}

async fn report(c: &DeployClient, id: i64, status: JobStatus, error: Option<&str>) -> Job {
    c.report(
        id,
        &ReportRequest {
            error_code: None,
            runner_id: RUNNER.to_string(),
            status,
            error_message: error.map(str::to_string),
            image: (status == JobStatus::Succeeded)
                .then(|| "10.0.0.103/funaistudio/u7-app20001:0123456789ab".to_string()),
            commit_sha: (status == JobStatus::Succeeded)
                .then(|| "0123456789abcdef0123456789abcdef01234567".to_string()),
        },
    )
    .await
    .expect("report")
}

/// A small estate: two nodes, one running job in BUILD, one failed, one pending stage-2 job.
async fn seed_jobs(c: &DeployClient) {
    heartbeat_node(c, "rt-01", 42.1, 13_207_024_435, 3).await;
    let running = create(c, image_payload("20001", "7", "busybox:1.36")).await;
    claim(c, 0).await;
    phase(c, running.id, "BUILD").await;
    let failed = create(c, image_payload("20003", "8", "nginx:1.27")).await;
    claim(c, 0).await;
    report(
        c,
        failed.id,
        JobStatus::Failed,
        Some("pull access denied for nginx:1.27, repository does not exist or may require 'docker login'"),
    )
    .await;
    create(
        c,
        JobPayload {
            app_id: "20002".into(),
            user_id: Some("7".into()),
            repo_ssh_url: Some("ssh://git@10.0.0.103:2222/srv/git/app.git".into()),
            git_ref: Some("v1.2.0".into()),
            ..Default::default()
        },
    )
    .await;
}

/// Waits until `rx` yields the line `want`.
async fn wait_for_line(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>, want: &str) {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = rx.recv().await {
            if line == want {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "functl never printed {want:?}");
}

// ---- jobs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_list_prints_a_table_and_json() {
    let d = testing::start().await;
    seed_jobs(&d.client()).await;

    let table = functl(&d, &["jobs", "list"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    snapshot!("jobs_list_table", table.stdout);

    let json = functl(&d, &["jobs", "list", "--output", "json"]).await;
    assert_eq!(json.code, 0, "{json:?}");
    let parsed: Vec<Job> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed.len(), 3);
    snapshot!("jobs_list_json", json.stdout);

    let filtered = functl(&d, &["jobs", "list", "--status", "failed", "-o", "json"]).await;
    let parsed: Vec<Job> = serde_json::from_str(&filtered.stdout).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].app_id, "20003");

    let by_app = functl(&d, &["jobs", "list", "--app", "20002", "--limit", "5"]).await;
    assert_eq!(by_app.code, 0, "{by_app:?}");
    assert_eq!(by_app.stdout.lines().count(), 2, "{}", by_app.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_show_prints_every_field_and_hides_env_values() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    let job = create(
        &c,
        JobPayload {
            app_id: "20002".into(),
            user_id: Some("7".into()),
            repo_ssh_url: Some("ssh://git@10.0.0.103:2222/srv/git/app.git".into()),
            git_ref: Some("v1.2.0".into()),
            dockerfile_path: Some("docker/Dockerfile".into()),
            container_port: Some(8080),
            env: Some(
                [("DB_PASSWORD".to_string(), "s3cret-db-pass".to_string())]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        },
    )
    .await;
    claim(&c, 0).await;
    phase(&c, job.id, "CLONE").await;
    append(&c, job.id, 0, "cloning\n").await;

    let id = job.id.to_string();
    let table = functl(&d, &["jobs", "show", &id]).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(!table.stdout.contains("s3cret-db-pass"), "{}", table.stdout);
    snapshot!("jobs_show_table", table.stdout);

    let json = functl(&d, &["jobs", "show", &id, "-o", "json"]).await;
    assert_eq!(json.code, 0, "{json:?}");
    let parsed: Job = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed.id, job.id);
    assert_eq!(parsed.phase.as_deref(), Some("CLONE"));
    snapshot!("jobs_show_json", json.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_show_of_an_unknown_job_exits_1_with_the_server_message() {
    let d = testing::start().await;
    let run = functl(&d, &["jobs", "show", "999999"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr.trim(),
        "error: deployd answered 404: job 999999 not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_logs_prints_the_raw_log_and_follows_to_the_end() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    let job = create(&c, image_payload("20001", "7", "busybox:1.36")).await;
    claim(&c, 0).await;
    let first = "Step 1/3 : FROM busybox:1.36\n ---> 1a2b3c\nStep 2/3 : COPY . /app\n";
    let end = append(&c, job.id, 0, first).await;
    let id = job.id.to_string();

    // Without -f: what is there now, then stop although the job still runs.
    let run = functl(&d, &["jobs", "logs", &id]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, first);

    // With -f: keeps reading until the job ends and every byte is out.
    let follow = Env::of(&d).run(&["jobs", "logs", &id, "--follow"]);
    let runner = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        append(
            &c,
            job.id,
            end,
            "Step 3/3 : CMD [\"node\", \"server.js\"]\n",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        report(&c, job.id, JobStatus::Succeeded, None).await;
    };
    let (run, ()) = tokio::join!(follow, runner);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{first}Step 3/3 : CMD [\"node\", \"server.js\"]\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_logs_into_a_closed_pipe_is_not_an_error() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    let job = create(&c, image_payload("20001", "7", "busybox:1.36")).await;
    claim(&c, 0).await;
    append(&c, job.id, 0, &"build output line\n".repeat(20_000)).await;

    let mut child = Env::of(&d)
        .command(&["jobs", "logs", &job.id.to_string()])
        .spawn()
        .unwrap();
    // The reader goes away before functl writes, as `functl jobs logs 1 | head -0` would.
    drop(child.stdout.take());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("functl hung on a closed pipe"))
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_cancel_says_what_happened() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    let running = create(&c, image_payload("20001", "7", "busybox:1.36")).await;
    claim(&c, 0).await;
    let pending = create(&c, image_payload("20002", "7", "busybox:1.36")).await;

    let run = functl(&d, &["jobs", "cancel", &pending.id.to_string()]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("job {} CANCELLED\n", pending.id));

    let run = functl(&d, &["jobs", "cancel", &running.id.to_string()]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "job {} cancel requested (RUNNING, the runner stops at its next heartbeat)\n",
            running.id
        )
    );

    let again = functl(&d, &["jobs", "cancel", &pending.id.to_string()]).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("deployd answered 409"), "{again:?}");

    let json = functl(
        &d,
        &["jobs", "cancel", &running.id.to_string(), "-o", "json"],
    )
    .await;
    let job: Job = serde_json::from_str(&json.stdout).unwrap();
    assert!(job.cancel_requested);
}

// ---- deploy ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_creates_a_job_and_prints_it() {
    let d = testing::start().await;
    let run = functl(
        &d,
        &[
            "deploy",
            "--app",
            "20002",
            "--user",
            "7",
            "--image",
            "busybox:1.36",
            "--port",
            "8080",
            "--env",
            "MODE=prod",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    snapshot!("deploy_table", run.stdout);

    let json = functl(
        &d,
        &[
            "deploy",
            "--app",
            "20003",
            "--user",
            "8",
            "--repo",
            "git@10.0.0.103:srv/git/app.git",
            "--ref",
            "main",
            "--dockerfile",
            "Dockerfile.prod",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(json.code, 0, "{json:?}");
    let job: Job = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(
        job.payload.dockerfile_path.as_deref(),
        Some("Dockerfile.prod")
    );
    snapshot!("deploy_json", json.stdout);

    // The app already has an active job: deployd's 409 in its own words.
    let again = functl(&d, &["deploy", "--app", "20002", "--image", "busybox:1.36"]).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stderr.starts_with("error: deployd answered 409: "),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_with_only_the_app_redeploys_it_and_says_which_flag_a_new_app_needs() {
    let d = testing::start_with(|s| {
        s.apps.repo_url_template =
            "ssh://git@10.0.0.103:2222/funai/u{userId}-app{appId}.git".into();
    })
    .await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    // A new app: deployd says what it lacks, functl says the flag; nothing is queued.
    let run = functl(&d, &["deploy", "--app", "20002"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr.trim(),
        "error: app 20002 is new to deployd: give the user it belongs to (deployd, payload.userId): add --user"
    );
    assert!(c.list_jobs(&Default::default()).await.unwrap().is_empty());
    // With its user, the template makes its repository.
    let run = functl(
        &d,
        &["deploy", "--app", "20002", "--user", "7", "-o", "json"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let job: Job = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        job.payload.repo_ssh_url.as_deref(),
        Some("ssh://git@10.0.0.103:2222/funai/u7-app20002.git")
    );
    let claimed = claim(&c, 10).await;
    report(&c, claimed.id, JobStatus::Succeeded, None).await;
    // What operators type: the app alone; the owner, repository and route as before.
    let run = functl(&d, &["deploy", "--app", "20002", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let again: Job = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(again.payload.user_id.as_deref(), Some("7"));
    assert_eq!(again.payload.repo_ssh_url, job.payload.repo_ssh_url);
    assert_eq!(again.payload.base_path.as_deref(), Some("/runtime/20002"));
    // Another user for the app: deployd's 409 names the owner and the way to move it.
    let claimed = claim(&c, 10).await;
    report(&c, claimed.id, JobStatus::Succeeded, None).await;
    let run = functl(&d, &["deploy", "--app", "20002", "--user", "8"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("app 20002 belongs to user 7, not 8")
            && run.stderr.contains("functl apps move --app 20002 --user 8"),
        "{run:?}"
    );
    let run = functl(
        &d,
        &["apps", "move", "--app", "20002", "--user", "8", "--yes"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "app 20002 moved from user 7 to user 8\n");
    let run = functl(&d, &["deploy", "--app", "20002", "-o", "json"]).await;
    let moved: Job = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(moved.payload.user_id.as_deref(), Some("8"));
    assert_eq!(
        moved.payload.image_repo.as_deref(),
        Some("funaistudio/u8-app20002")
    );

    // Without a template, a new app's source is the flag to add.
    let plain = testing::start().await;
    let run = functl(&plain, &["deploy", "--app", "5", "--user", "2"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("repo_url_template is not set")
            && run
                .stderr
                .trim_end()
                .ends_with("add --repo URL or --image IMAGE"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_wait_streams_the_log_and_prints_the_url() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;

    let mut child = Env::of(&d)
        .command(&[
            "deploy",
            "--app",
            "20002",
            "--user",
            "7",
            "--image",
            "busybox:1.36",
            "--wait",
        ])
        .spawn()
        .expect("cannot run functl");
    let mut stdout = child.stdout.take().expect("no stdout");
    let stderr = child.stderr.take().expect("no stderr");
    // The fake runner moves on only once functl has shown the phase, so that a slow machine
    // cannot make functl skip one.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stderr_reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut all = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push_str(&line);
            all.push('\n');
            let _ = seen_tx.send(line);
        }
        all
    });
    let job = claim(&c, 10).await;
    phase(&c, job.id, "BUILD").await;
    let n = append(&c, job.id, 0, "Step 1/2 : FROM busybox:1.36\n").await;
    wait_for_line(&mut seen_rx, "phase BUILD").await;
    phase(&c, job.id, "DEPLOY").await;
    append(&c, job.id, n, "container rt-u-7-20002-ab12 healthy\n").await;
    wait_for_line(&mut seen_rx, "phase DEPLOY").await;
    report(&c, job.id, JobStatus::Succeeded, None).await;

    let mut out = String::new();
    stdout.read_to_string(&mut out).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap_or_else(|_| panic!("functl did not end after the job did"))
        .unwrap();
    let err = stderr_reader.await.unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: out,
        stderr: err,
    };
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "Step 1/2 : FROM busybox:1.36\ncontainer rt-u-7-20002-ab12 healthy\ndeployed: http://203.0.113.10/runtime/20002/\n"
    );
    assert!(
        run.stderr
            .starts_with("job 1 created for app 20002 (PENDING)\n"),
        "{run:?}"
    );
    // No terminal in tests: plain phase lines, no spinner control characters.
    assert!(run.stderr.contains("phase BUILD\n"), "{run:?}");
    assert!(run.stderr.contains("phase DEPLOY\n"), "{run:?}");
    assert!(!run.stderr.contains('\u{1b}'), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_wait_exits_1_with_the_reason_when_the_job_fails() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;

    let functl = Env::of(&d).run(&[
        "deploy",
        "--app",
        "20002",
        "--user",
        "7",
        "--repo",
        "ssh://git@10.0.0.103:2222/srv/git/app.git",
        "--wait",
    ]);
    let runner = async {
        let job = claim(&c, 10).await;
        phase(&c, job.id, "BUILD").await;
        append(&c, job.id, 0, "npm ERR! missing script: build\n").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        report(
            &c,
            job.id,
            JobStatus::Failed,
            Some("docker build failed: The command '/bin/sh -c npm run build' returned a non-zero code: 1"),
        )
        .await;
    };
    let (run, ()) = tokio::join!(functl, runner);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "npm ERR! missing script: build\n");
    assert!(
        run.stderr.contains(
            "error: job 1 FAILED: docker build failed: The command '/bin/sh -c npm run build' returned a non-zero code: 1"
        ),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_wait_exits_1_when_the_job_is_cancelled() {
    let d = testing::start().await;
    let c = d.client();
    let functl = Env::of(&d).run(&[
        "deploy", "--app", "20002", "--user", "7", "--image", "busybox", "--wait",
    ]);
    let canceller = async {
        // No runtime node: the job stays PENDING until cancelled.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let jobs = c.list_jobs(&Default::default()).await.unwrap();
            if let Some(j) = jobs.first() {
                c.cancel_job(j.id).await.unwrap();
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "no job appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (run, ()) = tokio::join!(functl, canceller);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("job 1 CANCELLED"), "{run:?}");
}

// ---- usage errors: exit 2, nothing sent ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let d = testing::start().await;

    let both = functl(
        &d,
        &[
            "deploy",
            "--app",
            "1",
            "--image",
            "busybox",
            "--repo",
            "git@h:r.git",
        ],
    )
    .await;
    assert_eq!(both.code, 2, "{both:?}");
    assert!(both.stderr.contains("--image"), "{both:?}");

    let bad_app = functl(&d, &["deploy", "--app", "a/b", "--image", "busybox"]).await;
    assert_eq!(bad_app.code, 2, "{bad_app:?}");
    assert_eq!(
        bad_app.stderr.trim(),
        "error: invalid --app (payload.appId): contains '/'; only letters, digits, '_' and '-' are allowed"
    );

    let bad_ref = functl(
        &d,
        &[
            "deploy",
            "--app",
            "1",
            "--repo",
            "git@h:r.git",
            "--ref",
            "--upload-pack=x",
        ],
    )
    .await;
    assert_eq!(bad_ref.code, 2, "{bad_ref:?}");

    let bad_env = functl(
        &d,
        &[
            "deploy", "--app", "1", "--image", "busybox", "--env", "1X=y",
        ],
    )
    .await;
    assert_eq!(bad_env.code, 2, "{bad_env:?}");
    assert!(bad_env.stderr.contains("--env 1X"), "{bad_env:?}");

    let rm = functl(&d, &["nodes", "rm", "rt-01"]).await;
    assert_eq!(rm.code, 2, "{rm:?}");
    assert!(rm.stderr.contains("--yes"), "{rm:?}");

    let no_secret = Env::of(&d)
        .without("FUNCTL_DEPLOY_SECRET")
        .run(&["jobs", "list"])
        .await;
    assert_eq!(no_secret.code, 2, "{no_secret:?}");
    assert!(
        no_secret
            .stderr
            .contains("set deploy_secret in ~/.config/functl/config.toml or FUNCTL_DEPLOY_SECRET"),
        "{no_secret:?}"
    );

    let no_token = Env::of(&d)
        .without("FUNCTL_ADMIN_TOKEN")
        .run(&["nodes", "list"])
        .await;
    assert_eq!(no_token.code, 2, "{no_token:?}");
    assert!(
        no_token.stderr.contains("FUNCTL_ADMIN_TOKEN"),
        "{no_token:?}"
    );

    let bad_output = functl(&d, &["jobs", "list", "-o", "yaml"]).await;
    assert_eq!(bad_output.code, 2, "{bad_output:?}");

    // Nothing of the above reached deployd.
    let jobs = d.client().list_jobs(&Default::default()).await.unwrap();
    assert!(jobs.is_empty());
}

// ---- failures: exit 1 (3 when deployd is unreachable or refuses us), secrets never printed ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_without_being_printed() {
    let d = testing::start().await;
    let run = Env::of(&d)
        .with("FUNCTL_DEPLOY_SECRET", "wrong-secret-value")
        .run(&["jobs", "list"])
        .await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("deployd answered 401"), "{run:?}");
    assert!(!run.stderr.contains("wrong-secret-value"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_deployd_exits_3() {
    let d = testing::start().await;
    // A port that was free a moment ago and has no listener now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let run = Env::of(&d)
        .with("FUNCTL_DEPLOY_URL", &format!("http://127.0.0.1:{port}"))
        .run(&["jobs", "list"])
        .await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.starts_with("error: cannot reach deployd at "),
        "{run:?}"
    );
}

// ---- config layering, end to end ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_is_read_and_flags_win_over_it() {
    let d = testing::start().await;
    let env = Env::of(&d)
        .without("FUNCTL_DEPLOY_URL")
        .without("FUNCTL_DEPLOY_SECRET")
        .without("FUNCTL_ADMIN_TOKEN");
    let dir = env.home.join(".config/functl");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "deploy_url = \"{}\"\ndeploy_secret = \"{}\"\n",
            d.url,
            testing::DEPLOY_SECRET
        ),
    )
    .unwrap();
    let run = env.run(&["jobs", "list"]).await;
    assert_eq!(run.code, 0, "{run:?}");

    let flag = env
        .run(&["jobs", "list", "--deploy-secret", "overridden-by-flag"])
        .await;
    assert_eq!(flag.code, 3, "{flag:?}");
    assert!(flag.stderr.contains("401"), "{flag:?}");

    // An explicit --config names a file that must exist.
    let other = d.dir.path().join("other.toml");
    std::fs::write(
        &other,
        format!(
            "deploy_url = \"{}\"\nadmin_token = \"{}\"\n",
            d.url,
            testing::ADMIN_TOKEN
        ),
    )
    .unwrap();
    let explicit = env
        .run(&["--config", &other.display().to_string(), "nodes", "list"])
        .await;
    assert_eq!(explicit.code, 0, "{explicit:?}");
    let missing = env
        .run(&["--config", "/nonexistent/functl.toml", "nodes", "list"])
        .await;
    assert_eq!(missing.code, 2, "{missing:?}");
}

// ---- nodes ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_list_drain_and_remove() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    heartbeat_node(&c, "rt-02", 9.5, 2_147_483_648, 11).await;
    let job = create(&c, image_payload("20001", "7", "busybox:1.36")).await;
    claim(&c, 0).await;
    report(&c, job.id, JobStatus::Succeeded, None).await;

    let table = functl(&d, &["nodes", "list"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    snapshot!("nodes_list_table", table.stdout);
    let json = functl(&d, &["nodes", "list", "-o", "json"]).await;
    assert_eq!(json.code, 0, "{json:?}");
    snapshot!("nodes_list_json", json.stdout);

    // Draining is disruptive: without a terminal it needs --yes.
    let refused = functl(&d, &["nodes", "drain", "rt-02"]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("pass --yes"), "{refused:?}");
    let drained = functl(&d, &["nodes", "drain", "rt-02", "--yes"]).await;
    assert_eq!(drained.code, 0, "{drained:?}");
    assert_eq!(drained.stdout, "node rt-02 DRAINING\n");
    for (action, status) in [
        ("undrain", "HEALTHY"),
        ("disable", "DISABLED"),
        ("enable", "HEALTHY"),
    ] {
        let run = functl(&d, &["nodes", action, "rt-02"]).await;
        assert_eq!(run.code, 0, "{action}: {run:?}");
        assert_eq!(run.stdout, format!("node rt-02 {status}\n"), "{action}");
    }

    let unknown = functl(&d, &["nodes", "drain", "rt-99", "--yes"]).await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("deployd answered 404"),
        "{unknown:?}"
    );

    let rm = functl(&d, &["nodes", "rm", "rt-02", "--yes"]).await;
    assert_eq!(rm.code, 0, "{rm:?}");
    assert_eq!(rm.stdout, "node rt-02 removed\n");
    let left = c.list_nodes().await.unwrap();
    assert_eq!(left.len(), 1);
}

// ---- apps and runners ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_list_and_show() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    let job = create(&c, image_payload("20001", "7", "busybox:1.36")).await;
    claim(&c, 0).await;
    report(&c, job.id, JobStatus::Succeeded, None).await;
    let job = create(&c, image_payload("20003", "8", "nginx:1.27")).await;
    claim(&c, 0).await;
    report(
        &c,
        job.id,
        JobStatus::Failed,
        Some("health check timed out after 60 s"),
    )
    .await;

    let table = functl(&d, &["apps", "list"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    snapshot!("apps_list_table", table.stdout);
    let json = functl(&d, &["apps", "list", "-o", "json"]).await;
    assert_eq!(json.code, 0, "{json:?}");
    snapshot!("apps_list_json", json.stdout);

    let show = functl(&d, &["apps", "show", "20001"]).await;
    assert_eq!(show.code, 0, "{show:?}");
    snapshot!("apps_show_table", show.stdout);
    let show_json = functl(&d, &["apps", "show", "20001", "-o", "json"]).await;
    assert_eq!(show_json.code, 0, "{show_json:?}");
    snapshot!("apps_show_json", show_json.stdout);

    let never = functl(&d, &["apps", "show", "424242"]).await;
    assert_eq!(never.code, 1, "{never:?}");
    assert!(never.stderr.contains("404"), "{never:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_list() {
    let d = testing::start().await;
    let c = d.client();
    heartbeat_node(&c, "rt-01", 42.1, 13_207_024_435, 3).await;
    create(&c, image_payload("20001", "7", "busybox:1.36")).await;
    claim(&c, 0).await;

    let table = functl(&d, &["runners", "list"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    snapshot!("runners_list_table", table.stdout);
    let json = functl(&d, &["runners", "list", "-o", "json"]).await;
    assert_eq!(json.code, 0, "{json:?}");
    snapshot!("runners_list_json", json.stdout);
}
