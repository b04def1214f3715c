//! Contexts: one config file, two estates (two real deployds), chosen by `--context`,
//! `FUNCTL_CONTEXT` or the file's `current_context`; `XDG_CONFIG_HOME` honoured.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use protocol::job::{CreateJobRequest, JobPayload};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// functl with nothing from this process's environment but PATH and `env`.
async fn functl(env: &[(&str, &Path)], extra: &[(&str, &str)], args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .unwrap_or_else(|_| panic!("functl {args:?} did not finish"))
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Creates a job for `app` and answers its id.
async fn job(d: &testkit::deployd::TestDeployd, app: &str) -> String {
    d.client()
        .create_job(&CreateJobRequest {
            job_type: Default::default(),
            payload: JobPayload {
                app_id: app.into(),
                user_id: Some("7".into()),
                image: Some("registry.invalid/funai/app:1".into()),
                ..Default::default()
            },
        })
        .await
        .unwrap()
        .id
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_pick_the_estate_by_flag_environment_or_current_context() {
    let prod = testkit::deployd::start().await;
    let staging = testkit::deployd::start().await;
    let in_prod = job(&prod, "101").await;
    let in_staging = job(&staging, "202").await;
    // The file lives under XDG_CONFIG_HOME; HOME points elsewhere and holds nothing.
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir_all(xdg.join("functl")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let file = xdg.join("functl/config.toml");
    let secret = testkit::deployd::DEPLOY_SECRET;
    let admin = testkit::deployd::ADMIN_TOKEN;
    std::fs::write(
        &file,
        format!(
            "# two estates\ndeploy_secret = \"{secret}\"\nadmin_token = \"{admin}\"\ncurrent_context = \"prod\"\n\n[contexts.prod]\ndeploy_url = \"{}\"\n\n[contexts.staging]\ndeploy_url = \"{}\"\n",
            prod.url, staging.url
        ),
    )
    .unwrap();
    let env = [("HOME", home.as_path()), ("XDG_CONFIG_HOME", xdg.as_path())];
    let ids = |r: &Run| r.stdout.lines().map(str::to_string).collect::<Vec<_>>();

    // current_context: prod.
    let r = functl(&env, &[], &["jobs", "list", "-q"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ids(&r), vec![in_prod.clone()]);
    // --context wins over current_context; FUNCTL_CONTEXT likewise.
    let r = functl(&env, &[], &["--context", "staging", "jobs", "list", "-q"]).await;
    assert_eq!(ids(&r), vec![in_staging.clone()], "{}", r.stderr);
    let r = functl(
        &env,
        &[("FUNCTL_CONTEXT", "staging")],
        &["jobs", "list", "-q"],
    )
    .await;
    assert_eq!(ids(&r), vec![in_staging.clone()], "{}", r.stderr);
    // An environment variable wins over the context's own setting.
    let r = functl(
        &env,
        &[("FUNCTL_DEPLOY_URL", staging.url.as_str())],
        &["--context", "prod", "jobs", "list", "-q"],
    )
    .await;
    assert_eq!(ids(&r), vec![in_staging.clone()], "{}", r.stderr);

    // `context use` rewrites current_context and keeps the rest of the file.
    let r = functl(&env, &[], &["context", "use", "staging"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("context staging is now current"),
        "{}",
        r.stdout
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# two estates\n"), "{text}");
    assert!(text.contains("current_context = \"staging\""), "{text}");
    assert!(!text.contains("current_context = \"prod\""), "{text}");
    let r = functl(&env, &[], &["jobs", "list", "-q"]).await;
    assert_eq!(ids(&r), vec![in_staging.clone()], "{}", r.stderr);
    let r = functl(&env, &[], &["context", "list"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let current: Vec<&str> = r.stdout.lines().filter(|l| l.contains('*')).collect();
    assert!(
        current.len() == 1 && current[0].contains("staging") && current[0].contains(&staging.url),
        "{}",
        r.stdout
    );
    let r = functl(&env, &[], &["context", "list", "-q"]).await;
    assert_eq!(r.stdout, "prod\nstaging\n");

    // A context that is not there: usage error (exit 2) naming the known ones, nothing
    // written.
    let before = std::fs::read_to_string(&file).unwrap();
    let r = functl(&env, &[], &["--context", "prdo", "jobs", "list"]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("no context \"prdo\"") && r.stderr.contains("known: prod, staging"),
        "{}",
        r.stderr
    );
    let r = functl(&env, &[], &["context", "use", "qa"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no context \"qa\""), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    // Without XDG_CONFIG_HOME the file is looked for under HOME, where there is none: the
    // default URL, no contexts.
    let r = functl(&[("HOME", home.as_path())], &[], &["context", "list"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("no contexts in ~/.config/functl/config.toml"),
        "{}",
        r.stdout
    );
    prod.stop().await.unwrap();
    staging.stop().await.unwrap();
}
