//! Test helpers of the workspace, a dev-dependency only (never inside a shipped library):
//! a real deployd in-process on port 0 ([`deployd`]), the suite's services and an agentd
//! runtime and runner in-process ([`agentd`]), a plain-HTTP registry at a private address
//! in a network namespace and a Docker engine of the test's own ([`netns_registry`]). They
//! hold the tests' own secrets.
//!
//! A helper that cannot set up what a test needs panics with the reason: that is the
//! test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod agentd;
pub mod deployd;
pub mod netns_registry;

/// What a build script told a binary (`FUNAI_VERSION`, `FUNAI_COMMIT`) is this checkout's:
/// the version reads `{pkg} ({commit})`, and the commit is HEAD or an ancestor of it (a
/// commit may have landed since the build) as `git` sees from `dir`. Outside a checkout the
/// build says `unknown` and the version `{pkg} (unknown commit)`.
pub fn assert_version_of_this_checkout(version: &str, pkg: &str, commit: &str, dir: &str) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    if git(&["rev-parse", "HEAD"]).is_none() {
        assert_eq!(commit, "unknown");
        assert_eq!(version, format!("{pkg} (unknown commit)"));
        return;
    }
    assert_eq!(version, format!("{pkg} ({commit})"));
    assert!(
        commit.len() == 7 && git(&["merge-base", "--is-ancestor", commit, "HEAD"]).is_some(),
        "{commit} is not a commit of this checkout"
    );
}

/// `RUST_LOG=deployd=debug,agentd=warn cargo test …` shows what the in-process daemons log.
pub fn log_when_asked() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
