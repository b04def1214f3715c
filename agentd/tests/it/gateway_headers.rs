//! The embedded gateway's forwarded and hop-by-hop headers, as a real app container behind
//! agentd's runtime receives them: busybox httpd running a CGI script that answers the
//! request headers it was given.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::*;

/// httpd on 3000 whose `/cgi-bin/headers` prints the request headers (CGI `HTTP_*`).
const ECHO_HEADERS: &str = "/bin/busybox mkdir -p /www/cgi-bin \
    && /bin/busybox printf '#!/bin/busybox sh\\necho Content-Type: text/plain\\necho\\n/bin/busybox env\\n' > /www/cgi-bin/headers \
    && /bin/busybox chmod 755 /www/cgi-bin/headers \
    && exec /bin/busybox httpd -f -p 3000 -h /www";

async fn echo_image(s: &Services) -> String {
    script_image(s, "t-gateway-headers", "echo", "headers echo", ECHO_HEADERS).await
}

/// An app routed at its default base path, answering the headers it receives.
async fn routed_echo(t: &TestRuntime, img: &str) -> String {
    let app = format!("h{}", rand_hex());
    let (st, ans) = t.deploy("4", &app, img).await;
    assert_eq!(st, 200, "{ans}");
    format!("/runtime/{app}")
}

/// What the app received for `headers` sent through the gateway: header name (as CGI spells
/// it, `X_FORWARDED_FOR`) to value.
async fn received(
    t: &TestRuntime,
    base: &str,
    headers: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut req = reqwest::Client::new()
        .get(format!("{}{base}/cgi-bin/headers", t.gateway))
        .timeout(Duration::from_secs(10));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("gateway {base}: {e}"));
    let st = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(st, 200, "{body}");
    body.lines()
        .filter_map(|l| l.strip_prefix("HTTP_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(seen: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    seen.get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("the app did not receive {name}: {seen:?}"))
}

const FORGED: [(&str, &str); 4] = [
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-For", "1.2.3.4"),
    ("X-Forwarded-Host", "forged.example"),
    ("Forwarded", "for=1.2.3.4;proto=https"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_from_an_untrusted_peer_are_replaced_by_what_the_gateway_sees() {
    let Some(s) = services() else { return };
    let img = echo_image(&s).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let base = routed_echo(&t, &img).await;
    let host = t.gateway.trim_start_matches("http://").to_string();

    let seen = received(&t, &base, &FORGED).await;
    assert_eq!(get(&seen, "X_FORWARDED_PROTO"), "http");
    assert_eq!(get(&seen, "X_FORWARDED_FOR"), "127.0.0.1");
    assert_eq!(get(&seen, "X_FORWARDED_HOST"), host);
    assert_eq!(get(&seen, "X_FORWARDED_PREFIX"), base);
    assert_eq!(
        get(&seen, "FORWARDED"),
        format!("for=127.0.0.1;proto=http;host=\"{host}\"")
    );
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_from_a_trusted_proxy_are_kept_and_appended_to() {
    let Some(s) = services() else { return };
    let img = echo_image(&s).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.gateway.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let base = routed_echo(&t, &img).await;

    let seen = received(&t, &base, &FORGED).await;
    assert_eq!(get(&seen, "X_FORWARDED_PROTO"), "https");
    assert_eq!(get(&seen, "X_FORWARDED_FOR"), "1.2.3.4, 127.0.0.1");
    assert_eq!(get(&seen, "X_FORWARDED_HOST"), "forged.example");
    assert_eq!(get(&seen, "X_FORWARDED_PREFIX"), base);
    assert_eq!(
        get(&seen, "FORWARDED"),
        "for=1.2.3.4;proto=https, for=127.0.0.1;proto=https;host=forged.example"
    );
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_named_in_connection_and_hop_by_hop_ones_do_not_reach_the_app() {
    let Some(s) = services() else { return };
    let img = echo_image(&s).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let base = routed_echo(&t, &img).await;

    // The same header not named in Connection reaches the app: the gateway passes end-to-end
    // headers, so its absence below is the gateway's doing.
    let seen = received(&t, &base, &[("X-Secret-Hop", "1")]).await;
    assert_eq!(get(&seen, "X_SECRET_HOP"), "1");

    let seen = received(
        &t,
        &base,
        &[
            ("Connection", "close, X-Secret-Hop"),
            ("X-Secret-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("X-End-To-End", "yes"),
        ],
    )
    .await;
    assert_eq!(get(&seen, "X_END_TO_END"), "yes");
    for hop in [
        "X_SECRET_HOP",
        "CONNECTION",
        "KEEP_ALIVE",
        "PROXY_CONNECTION",
        "PROXY_AUTHORIZATION",
    ] {
        assert!(!seen.contains_key(hop), "{hop} reached the app: {seen:?}");
    }
    t.cleanup().await;
}
