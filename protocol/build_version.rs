// The version line of functl, deployd and agentd: `0.1.0 (2657bbe)`, the package version and
// the Git commit the program was built from, or `0.1.0 (unknown commit)` for a build outside
// a Git checkout. Not a module of this crate: each program's build.rs includes this file
// (std only), and a missing git or .git never fails a build.

use std::path::{Path, PathBuf};

/// What a build finds out about its checkout.
pub struct BuildVersion {
    /// The short commit (7 hex digits), when `dir` is inside a Git checkout.
    pub commit: Option<String>,
    /// `0.1.0 (2657bbe)` or `0.1.0 (unknown commit)`.
    pub line: String,
    /// The files whose change moves the commit: HEAD, and the branch file it names (or
    /// packed-refs where the branch is packed).
    pub watch: Vec<PathBuf>,
}

/// The commit `dir` is checked out at, `FUNAI_GIT_COMMIT` winning (a build from a source
/// tarball that knows its commit).
pub fn build_version(pkg_version: &str, dir: &Path, given: Option<String>) -> BuildVersion {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let text = text.trim();
        (out.status.success() && !text.is_empty()).then(|| text.to_string())
    };
    let is_commit =
        |c: &String| c.len() >= 7 && c.len() <= 40 && c.chars().all(|ch| ch.is_ascii_hexdigit());
    let commit = given
        .map(|c| c.trim().chars().take(7).collect::<String>())
        .filter(is_commit)
        .or_else(|| git(&["rev-parse", "--short=7", "HEAD"]).filter(is_commit));
    let mut watch = Vec::new();
    let path = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { dir.join(p) }
    };
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]).map(path) {
        let named = std::fs::read_to_string(&head)
            .ok()
            .and_then(|h| h.trim().strip_prefix("ref: ").map(str::to_string));
        if let Some(branch) = named {
            let loose = git(&["rev-parse", "--git-path", &branch]).map(path);
            match loose.filter(|p| p.exists()) {
                Some(p) => watch.push(p),
                None => watch.extend(
                    git(&["rev-parse", "--git-path", "packed-refs"])
                        .map(path)
                        .filter(|p| p.exists()),
                ),
            }
        }
        if head.exists() {
            watch.push(head);
        }
    }
    let shown = commit.as_deref().unwrap_or("unknown commit");
    BuildVersion {
        line: format!("{pkg_version} ({shown})"),
        commit,
        watch,
    }
}

/// For a build script: `FUNAI_VERSION` (the version line) and `FUNAI_COMMIT` (the short
/// commit, or `unknown`) for `env!`, and when to run again.
pub fn emit_build_version() {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let pkg = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let given = std::env::var("FUNAI_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty());
    let v = build_version(&pkg, &dir, given);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../protocol/build_version.rs");
    println!("cargo:rerun-if-env-changed=FUNAI_GIT_COMMIT");
    for p in &v.watch {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!(
        "cargo:rustc-env=FUNAI_COMMIT={}",
        v.commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rustc-env=FUNAI_VERSION={}", v.line);
}
