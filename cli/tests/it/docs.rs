//! The generated completions and man pages are what the programs produce now (they fail
//! when a flag changes and the files were not refreshed), the completions load in bash,
//! and the man pages render.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix) || n == "_functl")
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn assert_same(generated: &Path, committed: &Path, prefix: &str) {
    let g = files(generated, prefix);
    let c = files(committed, prefix);
    assert!(
        !g.is_empty(),
        "nothing generated in {}",
        generated.display()
    );
    assert_eq!(
        g,
        c,
        "the committed {} differs from what the program writes: run `functl generate-docs --root .` (and `agentd generate-man --dir man`)",
        committed.display()
    );
    for f in g {
        let a = std::fs::read(generated.join(&f)).unwrap_or_default();
        let b = std::fs::read(committed.join(&f)).unwrap_or_default();
        assert!(
            a == b,
            "{} drifted: regenerate with `functl generate-docs --root .`",
            committed.join(&f).display()
        );
    }
}

#[test]
fn completions_and_man_pages_have_not_drifted() {
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new(env!("CARGO_BIN_EXE_functl"))
        .args([
            "generate-docs",
            "--root",
            tmp.path().to_str().unwrap_or_default(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    assert_same(
        &tmp.path().join("completions"),
        &root().join("completions"),
        "functl",
    );
    assert_same(&tmp.path().join("man"), &root().join("man"), "functl");
}

#[test]
fn bash_loads_the_completion_and_knows_the_subcommands() {
    let script = root().join("completions/functl.bash");
    let out = Command::new("bash")
        .args([
            "-c",
            &format!("source {} && complete -p functl", script.display()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("functl"));
    // Completing `functl nodes dr` offers drain.
    let probe = format!(
        "source {} && COMP_WORDS=(functl nodes dr) && COMP_CWORD=2 && COMP_LINE='functl nodes dr' && COMP_POINT=${{#COMP_LINE}} && _functl functl dr nodes && echo \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("drain"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn every_man_page_renders_and_lists_the_exit_codes() {
    let have_man = Command::new("man").arg("--version").output().is_ok();
    if !have_man {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "man is required under CI (apt install man-db)"
        );
        eprintln!("SKIPPED: no man");
        return;
    }
    let man = root().join("man");
    let pages = files(&man, "");
    assert!(
        pages.iter().any(|p| p == "functl.1") && pages.iter().any(|p| p == "agentd.1"),
        "{pages:?}"
    );
    for p in pages {
        let out = Command::new("man")
            .env("MANWIDTH", "80")
            .args(["-l", man.join(&p).to_str().unwrap_or_default()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("EXIT STATUS"), "{p} lacks the exit codes");
    }
}

/// `--version` names the commit functl was built from, one of this checkout's; the
/// committed man pages keep the plain package version, so that a commit does not make them
/// drift.
#[test]
fn version_names_the_commit_and_man_pages_do_not() {
    let out = Command::new(env!("CARGO_BIN_EXE_functl"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // One build script run made both functl and these tests.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("functl {}\n", env!("FUNAI_VERSION"))
    );
    testkit::assert_version_of_this_checkout(
        env!("FUNAI_VERSION"),
        env!("CARGO_PKG_VERSION"),
        env!("FUNAI_COMMIT"),
        env!("CARGO_MANIFEST_DIR"),
    );
    let page = std::fs::read_to_string(root().join("man/functl.1")).unwrap_or_default();
    assert!(
        page.contains(&format!("\"functl {}\"", env!("CARGO_PKG_VERSION"))),
        "{page}"
    );
    assert!(!page.contains(env!("FUNAI_VERSION")), "{page}");
}
