//! HTTPS on the embedded gateway, as the agentd binary serves it: certificates from a test CA
//! made by openssl, a redirect from plain HTTP, the app told `X-Forwarded-Proto: https`, and
//! a new certificate taken on SIGHUP without dropping the connections already open.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_agentd");

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (apt install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and leaves `a` and `b` for the name `gw.test` signed by it.
fn make_certs(dir: &std::path::Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=funai-test-ca",
    ]);
    openssl(dir, &ca);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:gw.test\n").unwrap();
    for n in ["a", "b"] {
        let (key, csr, pem, subj) = (
            format!("{n}.key"),
            format!("{n}.csr"),
            format!("{n}.pem"),
            format!("/CN=gw-{n}"),
        );
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
    }
}

fn der(path: &std::path::Path) -> Vec<u8> {
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection to the gateway that trusts only the test CA, for `gw.test`.
async fn connect(ca: &std::path::Path, port: u16) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("gw.test").unwrap(), tcp)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with the gateway: {e}"))
}

fn served_cert(conn: &Tls) -> Vec<u8> {
    conn.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// One keep-alive GET on `conn`: status and body (the answers carry a Content-Length).
async fn get(conn: &mut Tls, path: &str) -> (u16, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: gw.test\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "the gateway closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .expect("a Content-Length");
            break (i + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the gateway closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    (status, body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn hup(pid: u32) {
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_https_and_takes_a_new_certificate_on_sighup() {
    let Some(s) = services() else { return };
    let img = testapp_image(&s, "t-testapp", "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    std::fs::copy(d.join("a.pem"), d.join("gw.pem")).unwrap();
    std::fs::copy(d.join("a.key"), d.join("gw.key")).unwrap();
    let (api, gw, tls) = (free_port(), free_port(), free_port());
    let node = format!("t-tls-{}", rand_hex());
    let cfg = d.join("agentd.toml");
    std::fs::write(
        &cfg,
        format!(
            "deploy_url = \"http://127.0.0.1:9\"\n[runtime]\nlisten = \"127.0.0.1:{api}\"\nnode_name = \"{node}\"\n\
             node_token = \"n-tok\"\nruntime_token = \"r-tok\"\ndata_dir = \"{dir}\"\nregistry = \"{reg}\"\n\
             registry_username = \"{user}\"\nregistry_password = \"{pw}\"\n\
             [runtime.gateway]\nlisten = \"127.0.0.1:{gw}\"\n\
             [runtime.gateway.tls]\nlisten = \"127.0.0.1:{tls}\"\ncert_file = \"{dir}/gw.pem\"\nkey_file = \"{dir}/gw.key\"\nredirect_http = true\n",
            dir = d.display(),
            reg = s.registry,
            user = s.user,
            pw = s.password,
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let logged = |what: &str| log.lock().unwrap().contains(what);

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = format!("s{}", rand_hex());
    until("agentd answered the deploy", Duration::from_secs(60), async || {
        let r = http
            .post(format!("http://127.0.0.1:{api}/agent/apps/deploy"))
            .header("X-Runtime-Token", "r-tok")
            .json(&serde_json::json!({"userId": "5", "appId": app, "image": img, "containerPort": 3000}))
            .send()
            .await
            .ok()?;
        let st = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(st, 200, "deploy: {body}");
        Some(())
    })
    .await;

    let mut first = connect(&d.join("ca.pem"), tls).await;
    assert_eq!(served_cert(&first), der(&d.join("a.pem")));
    let (st, headers) = get(&mut first, &format!("/runtime/{app}/headers")).await;
    assert_eq!(st, 200, "{headers}");
    assert!(headers.contains("x-forwarded-proto: https\n"), "{headers}");
    assert!(headers.contains("x-forwarded-host: gw.test\n"), "{headers}");

    let r = http
        .get(format!("http://127.0.0.1:{gw}/runtime/{app}/?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://127.0.0.1:{tls}/runtime/{app}/?x=1").as_str()
    );

    // A new pair on disk and SIGHUP: new connections get it, the open one goes on.
    std::fs::copy(d.join("b.pem"), d.join("gw.pem")).unwrap();
    std::fs::copy(d.join("b.key"), d.join("gw.key")).unwrap();
    hup(child.id());
    let b = der(&d.join("b.pem"));
    until(
        "a new connection gets certificate b",
        Duration::from_secs(20),
        async || (served_cert(&connect(&d.join("ca.pem"), tls).await) == b).then_some(()),
    )
    .await;
    assert_eq!(
        get(&mut first, &format!("/runtime/{app}/")).await,
        (200, "funai-testapp v1\n".to_string()),
        "the connection opened before the reload still serves"
    );

    // A broken certificate on SIGHUP is said and the one in use kept.
    std::fs::write(d.join("gw.pem"), "not a certificate\n").unwrap();
    hup(child.id());
    until(
        "agentd says the new pair does not load",
        Duration::from_secs(20),
        async || logged("the new certificate does not load").then_some(()),
    )
    .await;
    let mut again = connect(&d.join("ca.pem"), tls).await;
    assert_eq!(served_cert(&again), b);
    assert_eq!(get(&mut again, &format!("/runtime/{app}/")).await.0, 200);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let engine = agentd::docker::Engine::connect("").await.unwrap();
    for c in engine
        .list_by_label(&format!("funai.node={node}"), "funai-runtime-net")
        .await
        .unwrap()
    {
        let _ = engine.remove(&c.name).await;
    }
}

#[test]
fn a_certificate_that_does_not_load_stops_agentd_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("gw.pem"), "not a certificate\n").unwrap();
    std::fs::write(d.join("gw.key"), "not a key\n").unwrap();
    let cfg = d.join("agentd.toml");
    let (api, gw, tls) = (free_port(), free_port(), free_port());
    std::fs::write(
        &cfg,
        format!(
            "[runtime]\nlisten = \"127.0.0.1:{api}\"\nnode_token = \"n\"\nruntime_token = \"r\"\ndata_dir = \"{dir}\"\n\
             [runtime.gateway]\nlisten = \"127.0.0.1:{gw}\"\n[runtime.gateway.tls]\nlisten = \"127.0.0.1:{tls}\"\n\
             cert_file = \"{dir}/gw.pem\"\nkey_file = \"{dir}/gw.key\"\n",
            dir = d.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("runtime.gateway.tls") && err.contains("gw.pem"),
        "{err}"
    );

    // Without the files at all: refused when the settings are read.
    std::fs::write(
        &cfg,
        format!(
            "[runtime]\nnode_token = \"n\"\nruntime_token = \"r\"\n[runtime.gateway.tls]\nlisten = \"127.0.0.1:{tls}\"\n"
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cert_file and key_file"), "{err}");
}
