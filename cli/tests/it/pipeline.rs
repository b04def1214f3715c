//! The whole release path from the operator's seat: `functl deploy --repo ... --wait`
//! against deployd, an agentd runner and an agentd runtime, with sshd, the registry and
//! the Docker engine all real.

use std::process::Stdio;
use std::time::{Duration, Instant};

use testkit::agentd::*;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn functl(d: &testkit::deployd::TestDeployd, home: &std::path::Path, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("FUNCTL_DEPLOY_URL", &d.url)
        .env("FUNCTL_DEPLOY_SECRET", testkit::deployd::DEPLOY_SECRET)
        .env("FUNCTL_ADMIN_TOKEN", testkit::deployd::ADMIN_TOKEN)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), out)
        .await
        .unwrap_or_else(|_| panic!("functl {args:?} did not finish"))
        .expect("functl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn registry_tags(s: &Services, repo: &str) -> Vec<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/v2/{repo}/tags/list", s.registry))
        .basic_auth(&s.user, Some(&s.password))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default();
    v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn functl_deploy_wait_takes_a_repository_to_a_served_page() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.list_nodes().await.map(|n| !n.is_empty()).unwrap_or(false) {
        assert!(Instant::now() < deadline, "no node");
        tokio::task::yield_now().await;
    }
    let runner = start_runner(&s, &g, &d.url, "runner-01", |_| {}).await;
    let home = d.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let name = format!("hello-{}", rand_hex());
    let url = g.create_repo(&name, &app_files(&s.busybox, "hello, first deploy"));
    let run = functl(
        &d,
        &home,
        &[
            "deploy", "--app", "20002", "--user", "1", "--repo", &url, "--wait",
        ],
    )
    .await;
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("Step 2/5 : COPY busybox /bin/busybox"),
        "the build steps are shown:\n{}",
        run.stdout
    );
    let deployed = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("deployed: "))
        .unwrap_or_else(|| panic!("no deployed line:\n{}", run.stdout))
        .trim()
        .to_string();
    assert!(
        deployed.starts_with(&rt.gateway) && deployed.ends_with("/runtime/20002/"),
        "{deployed}"
    );
    let page = reqwest::get(&deployed)
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(page.trim(), "hello, first deploy");
    let jobs = c.jobs_by_app("20002", None).await.unwrap();
    let first_commit = jobs[0].commit_sha.clone().unwrap_or_default();
    let tags = registry_tags(&s, "funaistudio/u1-app20002").await;
    assert!(tags.contains(&first_commit[..12].to_string()), "{tags:?}");

    g.commit(
        &name,
        &[("www/index.html".into(), b"hello, second deploy\n".to_vec())],
        "second",
    );
    // What operators type: the app alone; deployd knows its owner and repository.
    let run = functl(&d, &home, &["deploy", "--app", "20002", "--wait"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let page = reqwest::get(&deployed)
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(page.trim(), "hello, second deploy");

    let jobs = c.jobs_by_app("20002", None).await.unwrap();
    assert_eq!(jobs.len(), 2);
    for j in &jobs {
        let run = functl(&d, &home, &["jobs", "logs", &j.id.to_string()]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains("==> CLONE") && run.stdout.contains("==> deployed"),
            "job {}:\n{}",
            j.id,
            run.stdout
        );
        assert!(
            run.stdout
                .contains(&j.commit_sha.clone().unwrap_or_default()),
            "{}",
            run.stdout
        );
    }
    runner.stop().await;
    rt.cleanup().await;
}

/// The estate's other conventions, end to end: routes at `/apps/{appId}`, images in
/// `{namespace}/apps/app-{appId}`, a new app's repository from the template, and
/// `functl deploy --app N --user U` as the whole command.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_estates_other_templates_route_and_name_a_new_app() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let app = format!(
        "{}",
        30_000 + u32::from_str_radix(&rand_hex(), 16).unwrap() % 9_000
    );
    let repo = format!("u2-app{app}");
    let url = g.create_repo(&repo, &app_files(&s.busybox, "hello from /apps"));
    let template = url.replace(&repo, "u{userId}-app{appId}");
    let d = testkit::deployd::start_for_real_nodes_with(|st| {
        st.apps.base_path_template = "/apps/{appId}".into();
        st.apps.image_repo_template = "{namespace}/apps/app-{appId}".into();
        st.apps.repo_url_template = template.clone();
    })
    .await;
    let c = d.client();
    let _rt = start_runtime(&s, &d.url, |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.list_nodes().await.map(|n| !n.is_empty()).unwrap_or(false) {
        assert!(Instant::now() < deadline, "no node");
        tokio::task::yield_now().await;
    }
    let _runner = start_runner(&s, &g, &d.url, "runner-01", |_| {}).await;
    let home = d.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let run = functl(
        &d,
        &home,
        &["deploy", "--app", &app, "--user", "2", "--wait"],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let deployed = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("deployed: "))
        .unwrap_or_else(|| panic!("no deployed line:\n{}", run.stdout))
        .trim()
        .to_string();
    assert!(deployed.ends_with(&format!("/apps/{app}/")), "{deployed}");
    let page = reqwest::get(&deployed)
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(page.trim(), "hello from /apps");
    let job = &c.jobs_by_app(&app, None).await.unwrap()[0];
    let image = job.image.clone().unwrap_or_default();
    assert!(
        image.starts_with(&format!("{}/funaistudio/apps/app-{app}:", s.registry)),
        "{image}"
    );
    let tags = registry_tags(&s, &format!("funaistudio/apps/app-{app}")).await;
    assert_eq!(tags.len(), 1, "{tags:?}");
}
