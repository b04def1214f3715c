//! The packaged example config parses, and deployd refuses to serve until its placeholder
//! secrets are replaced.

use std::process::Command;

#[test]
fn the_example_config_parses_and_its_placeholders_are_refused() {
    let cfg =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/config/deployd.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_deployd"))
        .env_clear()
        .args(["--config", cfg.to_str().unwrap_or_default(), "print-config"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("listen = \"0.0.0.0:7002\""), "{text}");
    assert!(!text.contains("CHANGE_ME"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_deployd"))
        .env_clear()
        .args([
            "--config",
            cfg.to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite::memory:",
            "serve",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CHANGE_ME placeholder"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn man_pages_have_not_drifted() {
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new(env!("CARGO_BIN_EXE_deployd"))
        .args([
            "generate-man",
            "--dir",
            tmp.path().to_str().unwrap_or_default(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../man");
    let list = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("deployd"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert_eq!(
        list(tmp.path()),
        list(&committed),
        "regenerate: deployd generate-man --dir man"
    );
    for f in list(tmp.path()) {
        assert!(
            std::fs::read(tmp.path().join(&f)).ok() == std::fs::read(committed.join(&f)).ok(),
            "man/{f} drifted: deployd generate-man --dir man"
        );
    }
}
