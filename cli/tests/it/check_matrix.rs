//! `functl check` in a small estate of network namespaces (see lab/): from each host it
//! reports the security-group matrix exactly; agents' rounds reach deployd and `check --all`
//! shows them with their age; a removed rule and an opened port are the two violations
//! reported, and only they.

use crate::lab;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::lab::{HOSTS, Lab, addr, expected_from};

/// (address, port) → (expected open?, ok?) from a `functl check -o json` document.
fn seen(doc: &serde_json::Value) -> BTreeMap<(String, u16), (bool, bool, serde_json::Value)> {
    doc["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {doc}"))
        .iter()
        .map(|r| {
            let key = (
                r["address"].as_str().unwrap_or_default().to_string(),
                r["port"].as_u64().unwrap_or_default() as u16,
            );
            let open = r["expected"] == "open";
            let ok = r["seen"] == r["expected"];
            (key, (open, ok, r.clone()))
        })
        .collect()
}

/// Asserts that the probes from `host` are the matrix's pairs exactly, and answers those
/// that went against it.
fn violations_from(host: &str, doc: &serde_json::Value) -> Vec<serde_json::Value> {
    let got = seen(doc);
    let want = expected_from(host);
    let got_keys: BTreeMap<_, _> = got.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    assert_eq!(
        got_keys, want,
        "{host}: the probed pairs are not the matrix's"
    );
    got.into_values()
        .filter(|(_, ok, _)| !ok)
        .map(|(_, _, r)| r)
        .collect()
}

#[test]
fn check_reports_the_matrix_from_every_host_and_exactly_the_violations() {
    if !lab::ready("check_matrix") {
        return;
    }
    let lab = Lab::build();

    // From every host the matrix holds: every allowed pair open with its handshake, every
    // other pair on the matrix's ports closed.
    for (host, _, roles) in HOSTS {
        let run = lab.check(host, &["-o", "json"]);
        let doc = run.json();
        assert_eq!(run.code, 0, "{host}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(doc["violations"], 0, "{host}: {doc}");
        assert!(violations_from(host, &doc).is_empty());
        let want_roles: Vec<&str> = roles.to_vec();
        assert_eq!(doc["roles"], serde_json::json!(want_roles), "{host}");
        for r in doc["results"].as_array().into_iter().flatten() {
            let cause = r["cause"].as_str().unwrap_or_default();
            match (r["expected"].as_str(), r["port"].as_u64()) {
                (Some("open"), Some(2222)) => {
                    assert!(cause.contains("host key ok"), "{host}: {r}");
                    assert!(cause.contains("login as git ok"), "{host}: {r}");
                }
                (Some("open"), Some(7002 | 7005)) => {
                    assert!(cause.contains("GET /internal/health: 200"), "{host}: {r}")
                }
                (Some("open"), Some(80)) if r["to"] == "registry" => {
                    assert!(cause.contains("GET /v2/: 401"), "{host}: {r}")
                }
                (Some("open"), Some(443)) if r["to"] == "registry" => {
                    assert!(cause.contains("GET /v2/: 200"), "{host}: {r}")
                }
                (Some("closed"), _) => {
                    assert!(cause.contains("no answer within 1000 ms"), "{host}: {r}")
                }
                _ => {}
            }
        }
    }

    // The table for people: one row per pair, the summary on stderr.
    let table = lab.check("runner", &[]);
    assert_eq!(table.code, 0, "{}{}", table.stdout, table.stderr);
    let header: Vec<&str> = table
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "FROM", "TO", "ADDRESS", "PORT", "EXPECTED", "SEEN", "LATENCY", "CAUSE"
        ],
        "{}",
        table.stdout
    );
    assert!(
        table.stderr.contains("the matrix holds"),
        "{}",
        table.stderr
    );

    // The agents' own rounds reach deployd: the whole matrix from one place, with ages.
    let deadline = Instant::now() + Duration::from_secs(90);
    let all = loop {
        let run = lab.functl("deploy", &["check", "--all", "-o", "json"]);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
        let clean = |kind: &str, name: &str, host: &str| {
            doc["reports"].as_array().into_iter().flatten().any(|r| {
                r["reporter"] == kind
                    && r["name"] == name
                    && r["violations"] == 0
                    && r["report"]["results"].as_array().map(Vec::len)
                        == Some(expected_from(host).len())
            })
        };
        if run.code == 0
            && clean("node", &lab.node_name, "runtime")
            && clean("runner", &lab.runner_id, "runner")
        {
            break doc;
        }
        assert!(
            Instant::now() < deadline,
            "the agents' checks never reached deployd clean: {}\n{}\nruntime agent:\n{}\nrunner agent:\n{}",
            run.stdout,
            run.stderr,
            lab.log("agentd-runtime"),
            lab.log("agentd-runner")
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    for r in all["reports"].as_array().into_iter().flatten() {
        let host = if r["reporter"] == "node" {
            "runtime"
        } else {
            "runner"
        };
        assert!(violations_from(host, &r["report"]).is_empty());
        assert_eq!(r["remoteAddr"], addr(host), "{r}");
    }
    let shown = lab.functl("deploy", &["check", "--all"]);
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    let header = shown.stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("REPORTER") && header.contains("AGE") && header.contains("CAUSE"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains(&format!("node:{}", lab.node_name))
            && shown.stdout.contains(&format!("runner:{}", lab.runner_id)),
        "{}",
        shown.stdout
    );

    // One allowed rule removed, one forbidden port opened: those two, and only they.
    lab.revoke("runner", "deploy", 7002);
    lab.allow("api", "mongo", 27017);
    for (host, _, _) in HOSTS {
        let run = lab.check(host, &["-o", "json"]);
        let doc = run.json();
        let bad = violations_from(host, &doc);
        match *host {
            "runner" => {
                assert_eq!(run.code, 1, "{}", run.stdout);
                assert_eq!(bad.len(), 1, "{bad:?}");
                assert_eq!(bad[0]["address"], addr("deploy"));
                assert_eq!(bad[0]["port"], 7002);
                assert_eq!(bad[0]["expected"], "open");
                assert_eq!(bad[0]["seen"], "closed");
            }
            "api" => {
                assert_eq!(run.code, 1, "{}", run.stdout);
                assert_eq!(bad.len(), 1, "{bad:?}");
                assert_eq!(bad[0]["address"], addr("mongo"));
                assert_eq!(bad[0]["port"], 27017);
                assert_eq!(bad[0]["expected"], "closed");
                assert_eq!(bad[0]["seen"], "open");
            }
            _ => {
                assert_eq!(run.code, 0, "{host}: {bad:?}");
                assert!(bad.is_empty(), "{host}: {bad:?}");
            }
        }
        assert_eq!(doc["violations"], bad.len(), "{host}");
    }
    let table = lab.check("api", &[]);
    assert_eq!(table.code, 1);
    assert!(table.stderr.contains("1 violation"), "{}", table.stderr);
}

#[test]
fn a_missing_default_topology_is_a_usage_error() {
    let out = std::process::Command::new(lab::functl())
        .args(["check"])
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    if std::path::Path::new(probe::DEFAULT_TOPOLOGY_PATH).exists() {
        eprintln!("SKIPPED: this machine has a topology file");
        return;
    }
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pass --topology FILE"), "{err}");
}

#[test]
fn a_bad_topology_or_role_is_a_usage_error_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[roles]\napi = [\"api.internal\"]\n").unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[roles]\napi = [\"192.0.2.91\"]\n").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(lab::functl())
            .args(args)
            .env_clear()
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    let b = bad.display().to_string();
    let g = good.display().to_string();
    let out = run(&["check", "--topology", &b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IP address"));
    // No address of this machine is in the topology: the role must be given.
    let out = run(&["check", "--topology", &g]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --from ROLE"));
    let out = run(&["check", "--topology", &g, "--from", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such role"));
    let out = run(&["check", "--topology", &g, "--timeout-ms", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// The figure of bench/check-matrix.sh: `functl check --expect-closed` from each host of the
/// lab (every probe in parallel, a per-probe timeout), beside the same probes one at a time
/// from the runner host, measured in the same run. Prints a markdown table.
#[test]
#[ignore = "a benchmark: bench/check-matrix.sh runs it"]
fn bench_check_expect_closed_across_the_matrix() {
    if !lab::ready("bench_check_expect_closed_across_the_matrix") {
        return;
    }
    let rounds: usize = std::env::var("FUNAI_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let lab = Lab::build();
    let mut rows = Vec::new();
    let mut total = Duration::ZERO;
    let mut probes_total = 0;
    for (host, _, _) in HOSTS {
        let mut times = Vec::new();
        let mut probes = 0;
        for _ in 0..rounds {
            let run = lab.check(host, &["-o", "json"]);
            assert_eq!(run.code, 0, "{host}: {}{}", run.stdout, run.stderr);
            probes = run.json()["probes"].as_u64().unwrap_or_default();
            times.push(run.elapsed);
        }
        let m = median(times);
        total += m;
        probes_total += probes;
        rows.push(format!("| from {host} | {probes} | {} |", ms(m)));
    }
    let seq = lab.check("runner", &["-o", "json", "--parallel", "1"]);
    assert_eq!(seq.code, 0, "{}{}", seq.stdout, seq.stderr);
    let seq_probes = seq.json()["probes"].as_u64().unwrap_or_default();
    println!(
        "\n`functl check --expect-closed --timeout-ms 1000` (--parallel 64), median of {rounds}, process start and `ip netns exec` included\n"
    );
    println!("| run | probes | time |\n|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!(
        "| all eight hosts, one after the other | {probes_total} | {} |",
        ms(total)
    );
    println!(
        "| baseline: from runner, --parallel 1 | {seq_probes} | {} |",
        ms(seq.elapsed)
    );
}
