//! The registry client against the real Distribution registry of scripts/services.sh, with
//! images pushed straight through the registry API (no Docker), and against an in-test token
//! server standing in for Harbor's Bearer flow.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use protocol::Secret;
use registry::{DOCKER_MANIFEST, OCI_INDEX, Plan, RegistryClient, RegistryError};
use sha2::{Digest as _, Sha256};

struct Reg {
    addr: String,
    user: String,
    password: String,
    http: reqwest::Client,
}

/// The registry of scripts/services.sh. Under CI it must be there: a missing one fails
/// loudly. Elsewhere the test says SKIPPED and passes over its body.
async fn registry(test: &str) -> Option<Reg> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let skip = |why: String| {
        if ci {
            panic!(
                "{test}: {why}. Under CI the registry must run: start it with scripts/services.sh (services_up) and source /tmp/funai-test-services/env"
            );
        }
        eprintln!(
            "SKIPPED: {test}: {why}; run `bash -c 'source scripts/services.sh; services_up'` and `source /tmp/funai-test-services/env`"
        );
        None
    };
    let (Some(addr), Some(user), Some(password)) = (
        get("FUNAI_TEST_REGISTRY"),
        get("FUNAI_TEST_REGISTRY_USER"),
        get("FUNAI_TEST_REGISTRY_PASSWORD"),
    ) else {
        return skip("FUNAI_TEST_REGISTRY, _USER and _PASSWORD are not set".into());
    };
    let reg = Reg {
        addr,
        user,
        password,
        http: reqwest::Client::new(),
    };
    match reg
        .http
        .get(format!("{}/v2/", reg.base()))
        .basic_auth(&reg.user, Some(&reg.password))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => Some(reg),
        Ok(r) => skip(format!(
            "the registry at {} answers /v2/ with {}",
            reg.addr,
            r.status()
        )),
        Err(e) => skip(format!("no registry answers at {}: {e}", reg.addr)),
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn unique_repo(what: &str) -> String {
    format!("functl-test/{what}-{:08x}", rand::random::<u32>())
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .with_timezone(&Utc)
}

fn day(d: u32) -> String {
    format!("2026-01-{d:02}T10:00:00Z")
}

fn tags_of(list: &[registry::TagInfo]) -> Vec<String> {
    list.iter().map(|t| t.tag.clone()).collect()
}

impl Reg {
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn client(&self) -> RegistryClient {
        RegistryClient::new(
            &self.addr,
            Some(self.user.clone()),
            Some(Secret::new(self.password.clone())),
        )
        .unwrap()
    }

    /// POST an upload, PUT its bytes with the digest: the monolithic upload of the spec.
    async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let resp = self
            .http
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base()))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .expect("start blob upload");
        assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED, "start upload");
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("upload Location")
            .to_string();
        let mut url = reqwest::Url::parse(&self.base())
            .and_then(|b| b.join(&location))
            .expect("upload URL");
        url.query_pairs_mut().append_pair("digest", &digest);
        let resp = self
            .http
            .put(url)
            .basic_auth(&self.user, Some(&self.password))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("finish blob upload");
        assert_eq!(resp.status(), reqwest::StatusCode::CREATED, "finish upload");
        digest
    }

    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let resp = self
            .http
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base()))
            .basic_auth(&self.user, Some(&self.password))
            .header(header::CONTENT_TYPE, media_type)
            .body(body.to_vec())
            .send()
            .await
            .expect("put manifest");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, reqwest::StatusCode::CREATED, "put manifest: {text}");
        sha256(body)
    }

    /// A one-layer Docker v2 schema 2 image whose config says it was built at `created`,
    /// tagged with every one of `tags`. Returns the manifest digest.
    async fn push_image(&self, repo: &str, created: &str, tags: &[&str]) -> String {
        let layer = format!("layer of {repo} built {created}").into_bytes();
        let layer_digest = self.push_blob(repo, &layer).await;
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }))
        .expect("config JSON");
        let config_digest = self.push_blob(repo, &config).await;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer.len(),
                "digest": layer_digest,
            }],
        }))
        .expect("manifest JSON");
        let mut digest = String::new();
        for tag in tags {
            digest = self
                .put_manifest(repo, tag, DOCKER_MANIFEST, &manifest)
                .await;
        }
        digest
    }

    async fn sorted_tags(&self, repo: &str) -> Vec<String> {
        let mut t = self.client().tags(repo).await.unwrap();
        t.sort();
        t
    }
}

#[tokio::test]
async fn catalog_follows_link_pagination_of_the_registry() {
    let Some(reg) = registry("catalog_follows_link_pagination_of_the_registry").await else {
        return;
    };
    let prefix = unique_repo("catalog");
    let repos: Vec<String> = (1..=3).map(|i| format!("{prefix}-{i}")).collect();
    for r in &repos {
        reg.push_image(r, &day(2), &["only"]).await;
    }
    // The registry itself cuts the catalog at n=2 and points at the rest with Link.
    let raw = reg
        .http
        .get(format!("{}/v2/_catalog?n=2", reg.base()))
        .basic_auth(&reg.user, Some(&reg.password))
        .send()
        .await
        .expect("raw catalog");
    assert!(raw.headers().contains_key(header::LINK), "no Link at n=2");
    let raw: serde_json::Value = raw.json().await.expect("raw JSON");
    assert_eq!(raw["repositories"].as_array().map(Vec::len), Some(2));

    let catalog = reg.client().page_size(2).catalog().await.unwrap();
    for r in &repos {
        assert!(catalog.contains(r), "{r} missing from the catalog");
    }
    let mut sorted = catalog.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), catalog.len(), "no page read twice");
}

#[tokio::test]
async fn tags_follow_link_pagination() {
    let Some(reg) = registry("tags_follow_link_pagination").await else {
        return;
    };
    let repo = unique_repo("pages");
    let names = ["t1", "t2", "t3", "t4", "t5"];
    reg.push_image(&repo, &day(1), &names).await;

    // Distribution 2.8 answers every tag at once whatever `n` says (only v3 pages tags):
    // the client must take that as the whole list.
    let mut tags = reg.client().page_size(2).tags(&repo).await.unwrap();
    tags.sort();
    assert_eq!(tags, names);

    // Harbor pages tags with `n` and Link; the stand-in below does the same.
    let (addr, harbor) = fake_harbor(&reg).await;
    let client = RegistryClient::new(
        &addr,
        Some(reg.user.clone()),
        Some(Secret::new(reg.password.clone())),
    )
    .unwrap()
    .page_size(2);
    let tags = client.tags(&repo).await.unwrap();
    assert_eq!(tags, names);
    assert_eq!(harbor.tag_pages(), 3, "5 tags at 2 a page");
}

#[tokio::test]
async fn manifest_digest_by_head_is_the_stored_digest_and_deleting_by_it_removes_the_tag() {
    let Some(reg) = registry("manifest_digest_by_head").await else {
        return;
    };
    let repo = unique_repo("digest");
    let v1 = reg.push_image(&repo, &day(1), &["v1"]).await;
    let v2 = reg.push_image(&repo, &day(2), &["v2"]).await;
    let client = reg.client();

    let head = client.manifest_digest(&repo, "v1").await.unwrap();
    assert_eq!(
        head, v1,
        "HEAD answers the digest of the manifest as pushed"
    );

    let deleted = client.delete_tag(&repo, "v1").await.unwrap();
    assert_eq!(deleted, v1);
    assert_eq!(reg.sorted_tags(&repo).await, ["v2"]);
    assert_eq!(
        client.manifest_digest(&repo, "v2").await.ok().as_deref(),
        Some(v2.as_str())
    );

    let gone = client
        .manifest_digest(&repo, "v1")
        .await
        .expect_err("v1 is deleted");
    assert!(gone.is_not_found(), "{gone}");
    let text = gone.to_string();
    assert!(
        text.contains(&format!("{repo}:v1")) && text.contains("404"),
        "{text}"
    );
}

#[tokio::test]
async fn created_is_read_from_the_config_blob_also_through_an_oci_index() {
    let Some(reg) = registry("created_is_read_from_the_config_blob").await else {
        return;
    };
    let repo = unique_repo("created");
    let built = "2025-03-04T05:06:07.123456789Z";
    let image = reg.push_image(&repo, built, &["v1"]).await;
    let client = reg.client();
    assert_eq!(client.created(&repo, "v1").await.unwrap(), at(built));

    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": DOCKER_MANIFEST,
            "digest": image,
            "size": 0,
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }))
    .expect("index JSON");
    let index_digest = reg.put_manifest(&repo, "multi", OCI_INDEX, &index).await;
    assert_eq!(client.created(&repo, "multi").await.unwrap(), at(built));
    assert_eq!(
        client.manifest_digest(&repo, "multi").await.ok(),
        Some(index_digest),
        "the index's own digest, not its first image's"
    );
}

#[tokio::test]
async fn a_plan_for_five_tags_keeping_three_keeps_the_newest_three() {
    let Some(reg) = registry("a_plan_for_five_tags_keeping_three").await else {
        return;
    };
    let repo = unique_repo("keep3");
    // Tag names in an order unrelated to age: the plan must go by `created`.
    for (tag, d) in [("e", 1), ("a", 2), ("d", 3), ("b", 4), ("c", 5)] {
        reg.push_image(&repo, &day(d), &[tag]).await;
    }
    let client = reg.client();
    let plan = client.retention_plan(&repo, 3, &[]).await.unwrap();
    assert_eq!(tags_of(&plan.keep), ["c", "b", "d"]);
    assert_eq!(tags_of(&plan.delete), ["a", "e"]);
    assert_eq!(plan.keep[0].created, at(&day(5)));

    let applied = client.apply(&repo, &plan).await.unwrap();
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);
    assert_eq!(tags_of(&applied.deleted), ["a", "e"]);
    assert_eq!(reg.sorted_tags(&repo).await, ["b", "c", "d"]);
}

#[tokio::test]
async fn a_protected_old_tag_is_kept_beside_the_newest() {
    let Some(reg) = registry("a_protected_old_tag_is_kept").await else {
        return;
    };
    let repo = unique_repo("protect");
    for d in 1..=5 {
        reg.push_image(&repo, &day(d), &[&format!("r{d}")]).await;
    }
    let client = reg.client();
    let plan = client
        .retention_plan(&repo, 3, &["r1".to_string()])
        .await
        .unwrap();
    assert_eq!(tags_of(&plan.keep), ["r5", "r4", "r3", "r1"]);
    assert_eq!(tags_of(&plan.delete), ["r2"]);
    assert_eq!(plan.keep[3].note.as_deref(), Some("protected"));

    let applied = client.apply(&repo, &plan).await.unwrap();
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);
    assert_eq!(reg.sorted_tags(&repo).await, ["r1", "r3", "r4", "r5"]);
}

#[tokio::test]
async fn tags_sharing_a_digest_with_a_kept_tag_are_not_deleted() {
    let Some(reg) = registry("tags_sharing_a_digest").await else {
        return;
    };
    let repo = unique_repo("shared");
    let newest = reg.push_image(&repo, &day(9), &["new", "latest"]).await;
    reg.push_image(&repo, &day(5), &["mid", "mid-copy"]).await;
    let old = reg.push_image(&repo, &day(2), &["old", "old-copy"]).await;
    reg.push_image(&repo, &day(1), &["oldest"]).await;

    let client = reg.client();
    let plan = client
        .retention_plan(&repo, 1, &["old".to_string()])
        .await
        .unwrap();
    // "new" wins the tie on name; "latest" is the same manifest, "old-copy" the same as the
    // protected "old": deleting either would delete the one that stays.
    assert_eq!(tags_of(&plan.keep), ["new", "latest", "old-copy", "old"]);
    assert_eq!(tags_of(&plan.delete), ["mid-copy", "mid", "oldest"]);
    let note = |t: &str| {
        plan.keep
            .iter()
            .find(|k| k.tag == t)
            .and_then(|k| k.note.clone())
            .unwrap_or_default()
    };
    assert!(note("latest").contains("new"), "{}", note("latest"));
    assert!(note("old-copy").contains("old"), "{}", note("old-copy"));
    assert_eq!(plan.keep[0].digest, newest);
    assert_eq!(plan.keep[3].digest, old);

    // "mid" and "mid-copy" go with one DELETE; both are reported, neither fails.
    let applied = client.apply(&repo, &plan).await.unwrap();
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);
    assert_eq!(tags_of(&applied.deleted), ["mid-copy", "mid", "oldest"]);
    assert_eq!(
        reg.sorted_tags(&repo).await,
        ["latest", "new", "old", "old-copy"]
    );

    // A hand-made plan that would delete a kept digest is refused tag by tag.
    let unsafe_plan = Plan {
        keep: plan.keep[..1].to_vec(),
        delete: plan.keep[1..2].to_vec(),
    };
    let applied = client.apply(&repo, &unsafe_plan).await.unwrap();
    assert!(applied.deleted.is_empty());
    assert!(
        matches!(&applied.failed[..], [f] if matches!(f.error, RegistryError::Skipped { .. })),
        "{:?}",
        applied.failed
    );
    assert_eq!(reg.sorted_tags(&repo).await.len(), 4);
}

#[tokio::test]
async fn a_wrong_password_is_refused_for_the_user() {
    let Some(reg) = registry("a_wrong_password_is_refused_for_the_user").await else {
        return;
    };
    let wrong = "definitely-not-the-password";
    let client =
        RegistryClient::new(&reg.addr, Some(reg.user.clone()), Some(Secret::new(wrong))).unwrap();
    for err in [
        client.ping().await.expect_err("ping with a wrong password"),
        client
            .tags("functl-test/any")
            .await
            .expect_err("tags with a wrong password"),
    ] {
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "the registry refused the credentials for user {}",
                reg.user
            )),
            "{text}"
        );
        assert!(!text.contains(wrong), "the password leaked: {text}");
        assert_eq!(err.status(), Some(401));
    }

    let anonymous = RegistryClient::new(&reg.addr, None, None).unwrap();
    let err = anonymous.ping().await.expect_err("no credentials");
    assert!(
        matches!(err, RegistryError::CredentialsMissing { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_repository_has_no_tags() {
    let Some(reg) = registry("an_unknown_repository_has_no_tags").await else {
        return;
    };
    let client = reg.client();
    let repo = unique_repo("never-pushed");
    assert_eq!(client.tags(&repo).await.unwrap(), Vec::<String>::new());
    let plan = client.retention_plan(&repo, 3, &[]).await.unwrap();
    assert!(plan.keep.is_empty() && plan.delete.is_empty());
}

#[tokio::test]
async fn names_with_traversal_or_spaces_never_reach_a_url() {
    // Port 9 (discard) on loopback: any request would fail with a transport error, so an
    // InvalidName proves nothing was sent.
    let client = RegistryClient::new("127.0.0.1:9", None, None).unwrap();
    fn invalid<T>(r: Result<T, RegistryError>) -> bool {
        matches!(r, Err(RegistryError::InvalidName { .. }))
    }
    assert!(invalid(client.tags("../v2/_catalog").await));
    assert!(invalid(client.tags("a b").await));
    assert!(invalid(client.manifest_digest("app", "..").await));
    assert!(invalid(client.manifest_digest("app", "v1 x").await));
    assert!(invalid(client.created("app", "v1/../../x").await));
    assert!(invalid(client.delete_tag("a/../b", "v1").await));
    assert!(invalid(
        client
            .retention_plan("app", 3, &["bad tag".to_string()])
            .await
    ));
}

// ---- Harbor's token flow --------------------------------------------------------------
//
// Harbor cannot run here. This server stands in for it: it answers /v2/ requests without a
// valid token with 401 and a `WWW-Authenticate: Bearer realm,service,scope` challenge,
// issues tokens at its realm after checking the user's basic credentials against the real
// registry, accepts a token only for the scope it was issued for, and proxies the requests
// it accepts to the real registry (adding basic auth), as Harbor's core does.

struct FakeHarbor {
    upstream: String,
    user: String,
    password: String,
    realm: String,
    http: reqwest::Client,
    /// token → scope it was issued for.
    tokens: Mutex<HashMap<String, String>>,
    /// Scopes asked for at the realm, in order.
    issued: Mutex<Vec<String>>,
    /// Pages of tags served.
    tag_pages: Mutex<usize>,
    /// The user is a robot account: Harbor grants it no `registry:catalog:*`.
    robot: bool,
}

impl FakeHarbor {
    fn issued(&self, scope: &str) -> usize {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|s| *s == scope)
            .count()
    }

    fn tag_pages(&self) -> usize {
        *self.tag_pages.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn revoke_all(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The scope a request needs, as Distribution's token auth names it.
fn scope_of(method: &Method, path: &str) -> String {
    let rest = path.trim_start_matches("/v2/");
    if rest.is_empty() {
        return String::new();
    }
    if rest == "_catalog" {
        return "registry:catalog:*".into();
    }
    let name = ["/tags/", "/manifests/", "/blobs/"]
        .iter()
        .find_map(|m| rest.rfind(m).map(|i| &rest[..i]))
        .unwrap_or(rest);
    let action = if *method == Method::DELETE {
        "delete"
    } else {
        "pull"
    };
    format!("repository:{name}:{action}")
}

async fn token(
    State(h): State<Arc<FakeHarbor>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scope = q.get("scope").cloned().unwrap_or_default();
    h.issued
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(scope.clone());
    // Harbor checks the password against its user store; here the real registry's htpasswd.
    let mut check = h.http.get(format!("{}/v2/", h.upstream));
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        check = check.header(header::AUTHORIZATION, auth.clone());
    }
    let ok = check.send().await.is_ok_and(|r| r.status().is_success());
    if !ok || q.get("service").map(String::as_str) != Some("harbor-registry") {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
            .into_response();
    }
    let token = format!("tok-{:016x}", rand::random::<u64>());
    // Harbor answers a robot's catalog request with a token that grants nothing.
    let granted = if h.robot && scope.starts_with("registry:catalog") {
        String::new()
    } else {
        scope
    };
    h.tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token.clone(), granted);
    axum::Json(serde_json::json!({"token": token, "expires_in": 1800})).into_response()
}

async fn proxy(
    State(h): State<Arc<FakeHarbor>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let scope = scope_of(&method, uri.path());
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| {
            h.tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(t)
                .cloned()
        });
    let valid = match presented {
        Some(granted) => scope.is_empty() || granted == scope,
        None => false,
    };
    if !valid {
        let mut challenge = format!(r#"Bearer realm="{}",service="harbor-registry""#, h.realm);
        if !scope.is_empty() {
            challenge.push_str(&format!(r#",scope="{scope}""#));
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized to access repository"}]}"#,
        )
            .into_response();
    }
    if method == Method::GET && uri.path().ends_with("/tags/list") {
        return tag_page(&h, &uri).await;
    }
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = h
        .http
        .request(method, format!("{}{path_and_query}", h.upstream))
        .basic_auth(&h.user, Some(&h.password));
    if let Some(accept) = headers.get(header::ACCEPT) {
        req = req.header(header::ACCEPT, accept.clone());
    }
    let Ok(resp) = req.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut out = Response::builder().status(resp.status());
    for name in [
        header::CONTENT_TYPE,
        header::LINK,
        header::HeaderName::from_static("docker-content-digest"),
    ] {
        if let Some(v) = resp.headers().get(&name) {
            out = out.header(name, v.clone());
        }
    }
    let body = resp.bytes().await.unwrap_or_default();
    out.body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// Harbor's way with `tags/list?n=&last=`: sorted, cut at `n`, the rest behind Link.
async fn tag_page(h: &FakeHarbor, uri: &Uri) -> Response {
    let query: HashMap<String, String> = reqwest::Url::parse(&format!("http://q/{uri}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let upstream = h
        .http
        .get(format!("{}{}", h.upstream, uri.path()))
        .basic_auth(&h.user, Some(&h.password))
        .send()
        .await;
    let Ok(upstream) = upstream else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = upstream.status();
    let Ok(mut list) = upstream.json::<serde_json::Value>().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    if !status.is_success() {
        return (status, axum::Json(list)).into_response();
    }
    *h.tag_pages.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    let mut tags: Vec<String> = list["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    tags.retain(|t| query.get("last").is_none_or(|l| t > l));
    let n = query
        .get("n")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let more = tags.len() > n;
    tags.truncate(n);
    list["tags"] = serde_json::json!(tags);
    let mut resp = axum::Json(list).into_response();
    if let (true, Some(last)) = (more, tags.last()) {
        let link = format!(r#"<{}?last={last}&n={n}>; rel="next""#, uri.path());
        if let Ok(v) = header::HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

async fn fake_harbor(reg: &Reg) -> (String, Arc<FakeHarbor>) {
    fake_harbor_for(reg, false).await
}

async fn fake_harbor_for(reg: &Reg, robot: bool) -> (String, Arc<FakeHarbor>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the fake Harbor");
    let addr = listener.local_addr().expect("local addr");
    let harbor = Arc::new(FakeHarbor {
        upstream: reg.base(),
        user: reg.user.clone(),
        password: reg.password.clone(),
        realm: format!("http://{addr}/service/token"),
        http: reqwest::Client::new(),
        tokens: Mutex::default(),
        issued: Mutex::default(),
        tag_pages: Mutex::default(),
        robot,
    });
    let app = Router::new()
        .route("/service/token", get(token))
        .fallback(proxy)
        .with_state(harbor.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr.to_string(), harbor)
}

#[tokio::test]
async fn bearer_challenges_get_a_token_per_scope_cached_and_refreshed() {
    let Some(reg) = registry("bearer_challenges_get_a_token_per_scope").await else {
        return;
    };
    let (addr, harbor) = fake_harbor(&reg).await;
    let repo = unique_repo("harbor");
    let built = day(7);
    let v1 = reg.push_image(&repo, &day(6), &["v1"]).await;
    reg.push_image(&repo, &built, &["v2"]).await;

    let client = RegistryClient::new(
        &addr,
        Some(reg.user.clone()),
        Some(Secret::new(reg.password.clone())),
    )
    .unwrap()
    .page_size(1);
    client.ping().await.unwrap();
    let mut tags = client.tags(&repo).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
    assert_eq!(client.created(&repo, "v2").await.ok(), Some(at(&built)));
    assert_eq!(
        client.manifest_digest(&repo, "v1").await.ok(),
        Some(v1.clone())
    );
    let pull = format!("repository:{repo}:pull");
    assert_eq!(
        harbor.issued(&pull),
        1,
        "one token serves every pull of the repository"
    );

    assert_eq!(client.delete_tag(&repo, "v1").await.ok(), Some(v1));
    assert_eq!(harbor.issued(&format!("repository:{repo}:delete")), 1);

    // An expired token draws a new challenge: the client fetches a fresh one and retries.
    harbor.revoke_all();
    assert_eq!(client.tags(&repo).await.unwrap(), ["v2"]);
    assert_eq!(harbor.issued(&pull), 2);
    assert!(client.catalog().await.is_ok_and(|c| c.contains(&repo)));
}

#[tokio::test]
async fn a_token_service_that_refuses_the_password_names_the_user() {
    let Some(reg) = registry("a_token_service_that_refuses_the_password").await else {
        return;
    };
    let (addr, _harbor) = fake_harbor(&reg).await;
    let wrong = "wrong-harbor-password";
    let client =
        RegistryClient::new(&addr, Some(reg.user.clone()), Some(Secret::new(wrong))).unwrap();
    let err = client.tags("functl-test/any").await.expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "the registry refused the credentials for user {}",
            reg.user
        )) && text.contains("list the tags of functl-test/any"),
        "{text}"
    );
    assert!(!text.contains(wrong), "{text}");
}

#[tokio::test]
async fn a_robot_account_refused_the_catalog_is_told_it_needs_an_admin_account() {
    let Some(reg) = registry("a_robot_account_refused_the_catalog").await else {
        return;
    };
    let (addr, _harbor) = fake_harbor_for(&reg, true).await;
    let repo = unique_repo("robot");
    reg.push_image(&repo, &day(3), &["v1"]).await;
    let client = RegistryClient::new(
        &addr,
        Some(reg.user.clone()),
        Some(Secret::new(reg.password.clone())),
    )
    .unwrap();
    // The robot's credentials are good for what it may do...
    client.ping().await.unwrap();
    assert_eq!(client.tags(&repo).await.unwrap(), ["v1"]);
    // ...and the catalog is not among it: said so, not "credentials refused".
    let err = client.catalog().await.expect_err("the catalog is refused");
    assert!(
        matches!(err, RegistryError::CatalogDenied { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("listing the catalog needs an admin account (robot accounts cannot list it)")
            && text.contains(&format!("user {} is accepted", reg.user))
            && !text.contains("refused the credentials"),
        "{text}"
    );
    assert!(!text.contains(&reg.password), "{text}");

    // A wrong password stays a refusal of the credentials.
    let wrong = RegistryClient::new(
        &addr,
        Some(reg.user.clone()),
        Some(Secret::new("wrong-robot-secret")),
    )
    .unwrap();
    let err = wrong.catalog().await.expect_err("refused");
    assert!(
        matches!(err, RegistryError::CredentialsRefused { .. }),
        "{err:?}"
    );
}

/// The registry of scripts/services.sh that speaks plain HTTP on port 80 at a private
/// address (`FUNAI_TEST_PLAIN_REGISTRY_80`). Under CI it must be there.
fn plain_registry_80(test: &str) -> Option<String> {
    match std::env::var("FUNAI_TEST_PLAIN_REGISTRY_80") {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "{test}: FUNAI_TEST_PLAIN_REGISTRY_80 is not set; scripts/services.sh (services_up) starts that registry"
            );
            eprintln!("SKIPPED: {test}: FUNAI_TEST_PLAIN_REGISTRY_80 is not set");
            None
        }
    }
}

#[tokio::test]
async fn a_plain_http_registry_at_a_private_address_is_reached_once_marked_insecure() {
    let test = "a_plain_http_registry_at_a_private_address_is_reached_once_marked_insecure";
    let Some(addr) = plain_registry_80(test) else {
        return;
    };
    // A bare address that is not loopback means https: port 443, where nothing listens.
    let https = RegistryClient::new(&addr, None, None).unwrap();
    assert_eq!(https.registry(), format!("https://{addr}"));
    let err = https.ping().await.expect_err("nothing answers https");
    let text = err.to_string();
    assert!(
        text.contains(&format!("https://{addr}/v2/"))
            && text.contains(&format!(
                "write http://{addr} as its address or mark it insecure"
            )),
        "{text}"
    );
    let plain = RegistryClient::new(&addr, None, None)
        .unwrap()
        .insecure(true);
    assert!(plain.is_plain_http());
    assert_eq!(plain.registry(), format!("http://{addr}"));
    plain.ping().await.unwrap();
    assert!(
        plain
            .tags(&unique_repo("never-pushed"))
            .await
            .unwrap()
            .is_empty()
    );
    // An address written with its scheme keeps it.
    let written = RegistryClient::new(&format!("https://{addr}"), None, None)
        .unwrap()
        .insecure(true);
    assert_eq!(written.registry(), format!("https://{addr}"));
}
