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
        .unwrap_or_else(|e| panic!("{e}"));
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
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CHANGE_ME placeholder"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
