//! Typed async client of the Docker Registry HTTP API v2 (Distribution, Harbor): list, age
//! and delete tags, and plan which tags of a repository to keep after a deploy.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LINK, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use protocol::Secret;
use protocol::validate::ImageRef;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Without every one of these the registry answers a schema 1 manifest converted on the fly,
/// whose digest names nothing it stores and so cannot be deleted.
const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";

const DIGEST_HEADER: &str = "Docker-Content-Digest";
const DEFAULT_PAGE_SIZE: usize = 100;
/// Per-tag look-ups a plan runs at once: enough to hide a WAN round trip, few enough for a
/// shared Harbor.
const LOOKUPS_IN_FLIGHT: usize = 4;
/// A registry whose `Link` headers never end would otherwise keep a listing going forever.
const MAX_PAGES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry address {base:?} is not usable: {reason}")]
    Address { base: String, reason: String },
    /// Caught before any request: the value never reaches a URL.
    #[error("{what} {value:?} is not valid: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "{op} on registry {registry} failed: the registry refused the credentials for user {user}; check the user name and password (or robot account token)"
    )]
    CredentialsRefused {
        op: String,
        registry: String,
        user: String,
    },
    #[error(
        "{op} on registry {registry} failed: the registry asks for credentials and none are configured"
    )]
    CredentialsMissing { op: String, registry: String },
    /// The credentials are good (`/v2/` takes them) but the catalog is not theirs to list:
    /// Harbor lists `/v2/_catalog` to system admins only, never to robot accounts.
    #[error(
        "list the repositories (catalog) on registry {registry} failed: HTTP {status}: listing the catalog needs an admin account (robot accounts cannot list it); user {user} is accepted by the registry but may not list it"
    )]
    CatalogDenied {
        registry: String,
        user: String,
        status: u16,
    },
    #[error("{op} on registry {registry} failed: cannot reach {url}: {source}{hint}")]
    Transport {
        op: String,
        registry: String,
        url: String,
        hint: String,
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered an error; `message` is the registry's own `errors[].message`.
    #[error("{op} on registry {registry} failed: HTTP {status}: {message}")]
    Status {
        op: String,
        registry: String,
        status: u16,
        /// The first `errors[].code`, e.g. `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `DENIED`.
        code: Option<String>,
        message: String,
    },
    #[error("{op} on registry {registry} failed: unexpected answer: {message}")]
    Decode {
        op: String,
        registry: String,
        message: String,
    },
    #[error("{op} on registry {registry} failed: token service {realm}: {message}")]
    Token {
        op: String,
        registry: String,
        realm: String,
        message: String,
    },
    /// `apply` left a planned deletion alone because doing it would no longer be safe.
    #[error("not deleting {repo}:{tag} on registry {registry}: {reason}")]
    Skipped {
        registry: String,
        repo: String,
        tag: String,
        reason: String,
    },
}

impl RegistryError {
    /// The HTTP status the registry answered, when it answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            RegistryError::CredentialsRefused { .. } | RegistryError::CredentialsMissing { .. } => {
                Some(401)
            }
            RegistryError::CatalogDenied { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// One tag of a repository with what a retention decision needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInfo {
    pub tag: String,
    /// Manifest digest the tag points at (`sha256:...`).
    pub digest: String,
    /// `created` of the image config.
    pub created: DateTime<Utc>,
    /// Why a kept tag is kept; `None` on tags to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which tags of one repository stay and which go. Both lists are newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub keep: Vec<TagInfo>,
    pub delete: Vec<TagInfo>,
}

impl Plan {
    /// Keeps the newest `keep` tags by `created` (ties: tag name descending), every tag in
    /// `protect` whatever its age, and every tag whose digest is also a kept tag's digest:
    /// the registry deletes manifests, not tags, so deleting it would delete the kept one too.
    /// Everything else is to delete. `keep` may be 0.
    pub fn compute(mut tags: Vec<TagInfo>, keep: usize, protect: &[String]) -> Plan {
        tags.sort_by(newest_first);
        let mut plan = Plan::default();
        let mut rest = Vec::new();
        for (i, mut t) in tags.into_iter().enumerate() {
            if i < keep {
                t.note = Some(format!("one of the newest {keep}"));
                plan.keep.push(t);
            } else if protect.contains(&t.tag) {
                t.note = Some("protected".into());
                plan.keep.push(t);
            } else {
                t.note = None;
                rest.push(t);
            }
        }
        let kept: HashMap<String, String> = plan
            .keep
            .iter()
            .map(|t| (t.digest.clone(), t.tag.clone()))
            .collect();
        for mut t in rest {
            match kept.get(&t.digest) {
                Some(other) => {
                    t.note = Some(format!(
                        "shares digest {} with kept tag {other}: deleting it would delete {other} too",
                        t.digest
                    ));
                    plan.keep.push(t);
                }
                None => plan.delete.push(t),
            }
        }
        plan.keep.sort_by(newest_first);
        plan
    }
}

fn newest_first(a: &TagInfo, b: &TagInfo) -> std::cmp::Ordering {
    b.created.cmp(&a.created).then_with(|| b.tag.cmp(&a.tag))
}

/// What [`RegistryClient::apply`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Deleted by this call, or found already gone.
    pub deleted: Vec<TagInfo>,
    pub failed: Vec<TagFailure>,
}

#[derive(Debug)]
pub struct TagFailure {
    pub tag: String,
    pub error: RegistryError,
}

/// A client of one registry. Cloning shares the connection pool and the token cache.
#[derive(Clone)]
pub struct RegistryClient {
    base: Url,
    /// The address as given when it named no scheme (`host[:port]`); one written with its
    /// scheme is left alone by [`RegistryClient::insecure`].
    bare: Option<String>,
    /// `scheme://host[:port]`, as errors name the registry.
    registry: String,
    http: reqwest::Client,
    username: Option<String>,
    password: Option<Secret>,
    /// Bearer tokens by the scope of the request that needed them.
    tokens: Arc<Mutex<HashMap<String, Secret>>>,
    page_size: usize,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// One request as the auth loop replays it.
struct Call<'a> {
    op: &'a str,
    method: Method,
    url: Url,
    accept: Option<&'static str>,
    /// The token scope it needs: `repository:<name>:pull`, `registry:catalog:*`, or empty.
    scope: String,
}

impl RegistryClient {
    /// `base` is `host[:port]` or `scheme://host[:port]`. A bare loopback host (127.0.0.0/8,
    /// `localhost`, `[::1]`) means `http://`, any other bare host `https://` unless
    /// [`RegistryClient::insecure`] says it speaks plain HTTP; an explicit scheme wins.
    pub fn new(
        base: &str,
        username: Option<String>,
        password: Option<Secret>,
    ) -> Result<Self, RegistryError> {
        let url = base_url(base).map_err(|reason| RegistryError::Address {
            base: base.to_string(),
            reason,
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Ok(Self {
            registry: url.origin().ascii_serialization(),
            bare: (!base.contains("://")).then(|| base.trim().trim_end_matches('/').to_string()),
            base: url,
            http,
            username: username.filter(|u| !u.trim().is_empty()),
            password: password.filter(|p| !p.is_empty()),
            tokens: Arc::default(),
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    /// `plain_http`: the registry speaks plain HTTP (it is among the engine's
    /// insecure-registries, or configured so), so a bare `host[:port]` means `http://`
    /// (port 80 when none is given). An address written with its scheme keeps it.
    pub fn insecure(mut self, plain_http: bool) -> Self {
        if !plain_http || self.base.scheme() == "http" {
            return self;
        }
        // Parsed again from what was given, so that an explicit :443 stays 443.
        if let Some(url) = self
            .bare
            .as_deref()
            .and_then(|b| Url::parse(&format!("http://{b}")).ok())
        {
            self.registry = url.origin().ascii_serialization();
            self.base = url;
            self.tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        self
    }

    /// The registry is reached over plain HTTP.
    pub fn is_plain_http(&self) -> bool {
        self.base.scheme() == "http"
    }

    /// Entries asked for per page of `catalog` and `tags` (`n`); at least 1.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// `scheme://host[:port]` of the registry.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `GET /v2/`: the registry is there, speaks v2 and takes the credentials.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let op = "check the registry API (/v2/)";
        let resp = self
            .execute(&Call {
                op,
                method: Method::GET,
                url: self.url(op, "v2/")?,
                accept: None,
                scope: String::new(),
            })
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.status_error(op, resp).await)
    }

    /// Every repository of the registry, page by page. Harbor answers the catalog to system
    /// admins only: credentials that `/v2/` accepts but the catalog refuses (401/403) give
    /// [`RegistryError::CatalogDenied`], not "credentials refused".
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let op = "list the repositories (catalog)";
        let url = self.url(op, "v2/_catalog")?;
        let listed = self
            .paginate(op, url, "registry:catalog:*".into(), false, |c: Catalog| {
                c.repositories.unwrap_or_default()
            })
            .await;
        match listed {
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                let Some(user) = self.username.clone() else {
                    return Err(e);
                };
                let status = e.status().unwrap_or(401);
                // Whether the credentials themselves are good decides which error this is.
                match self.ping().await {
                    Ok(()) => Err(RegistryError::CatalogDenied {
                        registry: self.registry.clone(),
                        user,
                        status,
                    }),
                    Err(_) => Err(e),
                }
            }
            other => other,
        }
    }

    /// Tags of `repo`, page by page. An unknown repository has no tags: that is not an error.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct TagList {
            tags: Option<Vec<String>>,
        }
        check_repository(repo)?;
        let op = format!("list the tags of {repo}");
        let url = self.url(&op, &format!("v2/{repo}/tags/list"))?;
        self.paginate(&op, url, pull_scope(repo), true, |t: TagList| {
            t.tags.unwrap_or_default()
        })
        .await
    }

    /// The digest of the manifest `repo:tag` points at, as the registry stores it (so it can
    /// be deleted by).
    pub async fn manifest_digest(&self, repo: &str, tag: &str) -> Result<String, RegistryError> {
        check_repository(repo)?;
        check_tag(tag)?;
        let op = format!("read the manifest digest of {repo}:{tag}");
        let resp = self
            .execute(&Call {
                op: &op,
                method: Method::HEAD,
                url: self.url(&op, &format!("v2/{repo}/manifests/{tag}"))?,
                accept: Some(MANIFEST_ACCEPT),
                scope: pull_scope(repo),
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.status_error(&op, resp).await);
        }
        if let Some(d) = header_digest(resp.headers()) {
            return self.checked_digest(&op, d);
        }
        // Some proxies drop the header on HEAD: the digest is then the hash of the body.
        let manifest = self.get_manifest(&op, repo, tag).await?;
        Ok(manifest.digest)
    }

    /// When the image `repo:tag` was built: `created` of its config blob. For a manifest list
    /// or OCI index, of the first image in it that is not an attestation.
    pub async fn created(&self, repo: &str, tag: &str) -> Result<DateTime<Utc>, RegistryError> {
        check_repository(repo)?;
        check_tag(tag)?;
        let op = format!("read the creation time of {repo}:{tag}");
        self.created_of(&op, repo, tag).await
    }

    /// Deletes `repo:tag` by its manifest digest and returns that digest. The registry deletes
    /// the manifest, so **every tag of `repo` that points at the same digest goes with it**
    /// (use [`RegistryClient::retention_plan`] to avoid that). A tag already gone is an
    /// error (404); a manifest that vanishes between look-up and delete is not.
    pub async fn delete_tag(&self, repo: &str, tag: &str) -> Result<String, RegistryError> {
        let digest = self.manifest_digest(repo, tag).await?;
        let op = format!("delete {repo}:{tag} ({digest})");
        self.delete_manifest(&op, repo, &digest).await?;
        Ok(digest)
    }

    /// Reads every tag of `repo` (digest and age) and decides with [`Plan::compute`]. A tag
    /// that disappears while it is read is left out; a tag whose age cannot be read fails the
    /// plan, since a plan never guesses an age.
    pub async fn retention_plan(
        &self,
        repo: &str,
        keep: usize,
        protect: &[String],
    ) -> Result<Plan, RegistryError> {
        check_repository(repo)?;
        for p in protect {
            check_tag(p)?;
        }
        let tags = self.tags(repo).await?;
        let digests: Vec<(String, Result<String, RegistryError>)> =
            futures_util::stream::iter(tags)
                .map(|tag| async move {
                    let d = self.manifest_digest(repo, &tag).await;
                    (tag, d)
                })
                .buffered(LOOKUPS_IN_FLIGHT)
                .collect()
                .await;
        let mut present = Vec::new();
        for (tag, digest) in digests {
            match digest {
                Ok(d) => present.push((tag, d)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        // Tags sharing a digest share an age: read each image once.
        let distinct: Vec<String> = present
            .iter()
            .map(|(_, d)| d.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let ages: Vec<(String, Result<DateTime<Utc>, RegistryError>)> =
            futures_util::stream::iter(distinct)
                .map(|digest| async move {
                    let op = format!("read the creation time of {repo}@{digest}");
                    let c = self.created_of(&op, repo, &digest).await;
                    (digest, c)
                })
                .buffered(LOOKUPS_IN_FLIGHT)
                .collect()
                .await;
        let mut created = HashMap::new();
        for (digest, age) in ages {
            created.insert(digest, age?);
        }
        let infos = present
            .into_iter()
            .filter_map(|(tag, digest)| {
                let c = *created.get(&digest)?;
                Some(TagInfo {
                    tag,
                    digest,
                    created: c,
                    note: None,
                })
            })
            .collect();
        Ok(Plan::compute(infos, keep, protect))
    }

    /// Deletes the plan's `delete` tags. Before each deletion the tag is looked up again: one
    /// that now points elsewhere, or at a digest a kept tag (or a tag pushed since the plan)
    /// also points at, is skipped with an error. Tags sharing a digest go with one DELETE.
    pub async fn apply(&self, repo: &str, plan: &Plan) -> Result<Applied, RegistryError> {
        check_repository(repo)?;
        let mut applied = Applied::default();
        let mut kept: HashMap<String, String> = plan
            .keep
            .iter()
            .map(|t| (t.digest.clone(), t.tag.clone()))
            .collect();
        // A tag pushed after the plan was made must not lose its manifest either.
        let planned: HashSet<&str> = plan
            .keep
            .iter()
            .chain(&plan.delete)
            .map(|t| t.tag.as_str())
            .collect();
        for tag in self.tags(repo).await? {
            if planned.contains(tag.as_str()) {
                continue;
            }
            match self.manifest_digest(repo, &tag).await {
                Ok(d) => {
                    kept.entry(d).or_insert(tag);
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let mut gone: HashSet<String> = HashSet::new();
        for t in &plan.delete {
            let skip = |reason: String| TagFailure {
                tag: t.tag.clone(),
                error: RegistryError::Skipped {
                    registry: self.registry.clone(),
                    repo: repo.to_string(),
                    tag: t.tag.clone(),
                    reason,
                },
            };
            if let Some(other) = kept.get(&t.digest) {
                applied.failed.push(skip(format!(
                    "its digest {} is also tag {other}, which stays",
                    t.digest
                )));
                continue;
            }
            if gone.contains(&t.digest) {
                applied.deleted.push(t.clone());
                continue;
            }
            match self.manifest_digest(repo, &t.tag).await {
                Ok(d) if d == t.digest => {}
                Ok(d) => {
                    applied.failed.push(skip(format!(
                        "it moved from {} to {d} since the plan was made",
                        t.digest
                    )));
                    continue;
                }
                Err(e) if e.is_not_found() => {
                    applied.deleted.push(t.clone());
                    continue;
                }
                Err(error) => {
                    applied.failed.push(TagFailure {
                        tag: t.tag.clone(),
                        error,
                    });
                    continue;
                }
            }
            let op = format!("delete {repo}:{} ({})", t.tag, t.digest);
            match self.delete_manifest(&op, repo, &t.digest).await {
                Ok(()) => {
                    gone.insert(t.digest.clone());
                    applied.deleted.push(t.clone());
                }
                Err(error) => applied.failed.push(TagFailure {
                    tag: t.tag.clone(),
                    error,
                }),
            }
        }
        Ok(applied)
    }

    // ---- internals ----

    fn url(&self, op: &str, path: &str) -> Result<Url, RegistryError> {
        self.base.join(path).map_err(|e| RegistryError::Decode {
            op: op.to_string(),
            registry: self.registry.clone(),
            message: format!("cannot build a URL from {path:?}: {e}"),
        })
    }

    async fn created_of(
        &self,
        op: &str,
        repo: &str,
        reference: &str,
    ) -> Result<DateTime<Utc>, RegistryError> {
        #[derive(Deserialize)]
        struct ImageConfig {
            created: Option<DateTime<Utc>>,
        }
        let manifest = self.get_manifest(op, repo, reference).await?;
        let config = match (manifest.doc.config, manifest.doc.manifests) {
            (_, Some(entries)) => {
                let entry = entries
                    .iter()
                    .find(|e| !e.is_attestation())
                    .or(entries.first())
                    .ok_or_else(|| self.decode(op, "the manifest list is empty".into()))?;
                let digest = self.checked_digest(op, entry.digest.clone())?;
                let image = self.get_manifest(op, repo, &digest).await?;
                image.doc.config.ok_or_else(|| {
                    self.decode(
                        op,
                        format!("the first image of the list ({digest}) has no config"),
                    )
                })?
            }
            (Some(config), None) => config,
            (None, None) => {
                let why = if manifest.doc.schema_version == Some(1) {
                    "it is a schema 1 manifest, which has no config blob: push the image again with a current Docker"
                        .to_string()
                } else {
                    format!(
                        "the manifest ({}) has neither a config nor a list of manifests",
                        manifest.media_type
                    )
                };
                return Err(self.decode(op, why));
            }
        };
        let digest = self.checked_digest(op, config.digest)?;
        let resp = self
            .execute(&Call {
                op,
                method: Method::GET,
                url: self.url(op, &format!("v2/{repo}/blobs/{digest}"))?,
                accept: None,
                scope: pull_scope(repo),
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.status_error(op, resp).await);
        }
        let config: ImageConfig = self.json(op, resp).await?;
        config.created.ok_or_else(|| {
            self.decode(op, format!("the image config {digest} has no created time"))
        })
    }

    async fn get_manifest(
        &self,
        op: &str,
        repo: &str,
        reference: &str,
    ) -> Result<Manifest, RegistryError> {
        let resp = self
            .execute(&Call {
                op,
                method: Method::GET,
                url: self.url(op, &format!("v2/{repo}/manifests/{reference}"))?,
                accept: Some(MANIFEST_ACCEPT),
                scope: pull_scope(repo),
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.status_error(op, resp).await);
        }
        let header = header_digest(resp.headers());
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_string());
        let body = self.body(op, resp).await?;
        let doc: ManifestDoc = serde_json::from_slice(&body)
            .map_err(|e| self.decode(op, format!("the manifest is not JSON: {e}")))?;
        let digest = match header {
            Some(d) => self.checked_digest(op, d)?,
            None => format!("sha256:{:x}", Sha256::digest(&body)),
        };
        Ok(Manifest {
            media_type: content_type
                .or(doc.media_type.clone())
                .unwrap_or_else(|| "no media type".into()),
            digest,
            doc,
        })
    }

    async fn delete_manifest(
        &self,
        op: &str,
        repo: &str,
        digest: &str,
    ) -> Result<(), RegistryError> {
        let digest = self.checked_digest(op, digest.to_string())?;
        let resp = self
            .execute(&Call {
                op,
                method: Method::DELETE,
                url: self.url(op, &format!("v2/{repo}/manifests/{digest}"))?,
                accept: None,
                scope: format!("repository:{repo}:delete"),
            })
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let mut err = self.status_error(op, resp).await;
        match (&mut err, status) {
            // Someone else deleted it first: the outcome asked for holds.
            (_, StatusCode::NOT_FOUND) => return Ok(()),
            (RegistryError::Status { message, .. }, StatusCode::METHOD_NOT_ALLOWED) => {
                message.push_str(
                    " (the registry has deletes turned off: set storage.delete.enabled: true in its config)",
                );
            }
            _ => {}
        }
        Err(err)
    }

    /// Lists page by page, following `Link: <...>; rel="next"`.
    async fn paginate<T: DeserializeOwned>(
        &self,
        op: &str,
        first: Url,
        scope: String,
        unknown_is_empty: bool,
        items: impl Fn(T) -> Vec<String>,
    ) -> Result<Vec<String>, RegistryError> {
        let mut url = first;
        url.query_pairs_mut()
            .append_pair("n", &self.page_size.to_string());
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let resp = self
                .execute(&Call {
                    op,
                    method: Method::GET,
                    url: url.clone(),
                    accept: None,
                    scope: scope.clone(),
                })
                .await?;
            if !resp.status().is_success() {
                let err = self.status_error(op, resp).await;
                let unknown = matches!(
                    &err,
                    RegistryError::Status { status: 404, code: Some(c), .. }
                        if c == "NAME_UNKNOWN" || c == "NOT_FOUND"
                );
                if unknown_is_empty && unknown {
                    return Ok(out);
                }
                return Err(err);
            }
            let next = self.next_page(op, &url, resp.headers())?;
            out.extend(items(self.json(op, resp).await?));
            match next {
                Some(n) if seen.insert(n.to_string()) => url = n,
                _ => return Ok(out),
            }
        }
        Err(self.decode(
            op,
            format!("the listing did not end after {MAX_PAGES} pages"),
        ))
    }

    fn next_page(
        &self,
        op: &str,
        current: &Url,
        headers: &HeaderMap,
    ) -> Result<Option<Url>, RegistryError> {
        let Some(target) = headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link)
        else {
            return Ok(None);
        };
        let next = current
            .join(&target)
            .map_err(|e| self.decode(op, format!("bad Link header {target:?}: {e}")))?;
        // The credentials go with the next request: never to another host.
        if next.origin() != self.base.origin() {
            return Err(self.decode(
                op,
                format!("the next page is on another host ({next}); not following it"),
            ));
        }
        Ok(Some(next))
    }

    /// Sends `call`, and on a Bearer challenge fetches a token for the challenged scope,
    /// caches it and sends once more.
    async fn execute(&self, call: &Call<'_>) -> Result<Response, RegistryError> {
        let cached = self.cached_token(&call.scope);
        let resp = self.send(call, cached.as_ref()).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let bearer = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_challenge)
            .find(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
        let Some((_, params)) = bearer else {
            return Err(self.refused(call.op));
        };
        let token = self.fetch_token(call.op, &params).await?;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(call.scope.clone(), token.clone());
        let resp = self.send(call, Some(&token)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(self.refused(call.op));
        }
        Ok(resp)
    }

    fn cached_token(&self, scope: &str) -> Option<Secret> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(scope)
            .cloned()
    }

    async fn send(
        &self,
        call: &Call<'_>,
        token: Option<&Secret>,
    ) -> Result<Response, RegistryError> {
        let mut rb = self.http.request(call.method.clone(), call.url.clone());
        if let Some(accept) = call.accept {
            rb = rb.header(ACCEPT, accept);
        }
        rb = match (token, &self.username) {
            (Some(t), _) => rb.bearer_auth(t.expose()),
            (None, Some(user)) => rb.basic_auth(user, self.password.as_ref().map(Secret::expose)),
            (None, None) => rb,
        };
        rb.send()
            .await
            .map_err(|source| self.transport(call.op, &call.url, source))
    }

    async fn fetch_token(
        &self,
        op: &str,
        params: &HashMap<String, String>,
    ) -> Result<Secret, RegistryError> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let realm = params.get("realm").cloned().unwrap_or_default();
        let token_error = |message: String| RegistryError::Token {
            op: op.to_string(),
            registry: self.registry.clone(),
            realm: realm.clone(),
            message,
        };
        let mut url = Url::parse(&realm)
            .map_err(|e| token_error(format!("the challenge's realm is not a URL: {e}")))?;
        match (url.scheme(), self.base.scheme()) {
            ("https", _) | ("http", "http") => {}
            (s, _) => {
                return Err(token_error(format!(
                    "refusing to send credentials to a {s}:// realm of an https registry"
                )));
            }
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = params.get("service") {
                q.append_pair("service", service);
            }
            if let Some(scope) = params.get("scope") {
                q.append_pair("scope", scope);
            }
        }
        let mut rb = self.http.get(url.clone());
        if let Some(user) = &self.username {
            rb = rb.basic_auth(user, self.password.as_ref().map(Secret::expose));
        }
        let resp = rb
            .send()
            .await
            .map_err(|source| self.transport(op, &url, source))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.refused(op));
        }
        let body = self.body(op, resp).await?;
        if !status.is_success() {
            let (_, message) = registry_message(&body, status);
            return Err(token_error(format!("HTTP {}: {message}", status.as_u16())));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| token_error(format!("the answer is not a token: {e}")))?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| token_error("the answer holds no token".into()))
    }

    fn refused(&self, op: &str) -> RegistryError {
        match &self.username {
            Some(user) => RegistryError::CredentialsRefused {
                op: op.to_string(),
                registry: self.registry.clone(),
                user: user.clone(),
            },
            None => RegistryError::CredentialsMissing {
                op: op.to_string(),
                registry: self.registry.clone(),
            },
        }
    }

    fn transport(&self, op: &str, url: &Url, source: reqwest::Error) -> RegistryError {
        let hint = if url.scheme() == "https" && (source.is_connect() || source.is_request()) {
            format!(
                " (if the registry speaks plain HTTP, write http://{} as its address or mark it insecure)",
                url.host_str().unwrap_or_default()
            )
        } else {
            String::new()
        };
        RegistryError::Transport {
            op: op.to_string(),
            registry: self.registry.clone(),
            url: url.to_string(),
            hint,
            source,
        }
    }

    fn decode(&self, op: &str, message: String) -> RegistryError {
        RegistryError::Decode {
            op: op.to_string(),
            registry: self.registry.clone(),
            message,
        }
    }

    fn checked_digest(&self, op: &str, digest: String) -> Result<String, RegistryError> {
        match check_digest(&digest) {
            Ok(()) => Ok(digest),
            Err(reason) => Err(self.decode(op, format!("digest {digest:?} {reason}"))),
        }
    }

    async fn body(&self, op: &str, resp: Response) -> Result<Vec<u8>, RegistryError> {
        let url = resp.url().clone();
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|source| self.transport(op, &url, source))
    }

    async fn json<T: DeserializeOwned>(
        &self,
        op: &str,
        resp: Response,
    ) -> Result<T, RegistryError> {
        let body = self.body(op, resp).await?;
        serde_json::from_slice(&body).map_err(|e| {
            let start: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            self.decode(op, format!("{e} in {start:?}"))
        })
    }

    async fn status_error(&self, op: &str, resp: Response) -> RegistryError {
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let (code, message) = registry_message(&body, status);
        RegistryError::Status {
            op: op.to_string(),
            registry: self.registry.clone(),
            status: status.as_u16(),
            code,
            message,
        }
    }
}

struct Manifest {
    media_type: String,
    digest: String,
    doc: ManifestDoc,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc {
    schema_version: Option<u32>,
    media_type: Option<String>,
    config: Option<Descriptor>,
    manifests: Option<Vec<IndexEntry>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Deserialize)]
struct IndexEntry {
    digest: String,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    os: Option<String>,
}

impl IndexEntry {
    /// BuildKit puts provenance manifests in the index under the platform `unknown/unknown`;
    /// their config is not an image config.
    fn is_attestation(&self) -> bool {
        self.platform
            .as_ref()
            .and_then(|p| p.os.as_deref())
            .is_some_and(|os| os == "unknown")
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn header_digest(headers: &HeaderMap) -> Option<String> {
    headers
        .get(DIGEST_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The registry's own words from `{"errors":[{"code","message","detail"}]}`, else the start
/// of the body, else the status' reason (HEAD answers carry no body).
fn registry_message(body: &[u8], status: StatusCode) -> (Option<String>, String) {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body)
        && !e.errors.is_empty()
    {
        let code = e.errors.iter().find_map(|i| i.code.clone());
        let message = e
            .errors
            .iter()
            .map(|i| match (&i.message, &i.code) {
                (Some(m), Some(c)) => format!("{m} ({c})"),
                (Some(m), None) => m.clone(),
                (None, Some(c)) => c.clone(),
                (None, None) => "unspecified error".into(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        return (code, message);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() {
        return (None, text.chars().take(300).collect());
    }
    let reason = status.canonical_reason().unwrap_or("no reason given");
    (None, format!("{} (no error body)", reason.to_lowercase()))
}

/// `<url>; rel="next"` out of one `Link` header value (which may hold several links).
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .filter_map(|p| p.split_once('='))
            .any(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("next")
            })
            .then(|| target.to_string())
    })
}

/// `Bearer realm="...",service="...",scope="repository:a/b:pull,push"` into its scheme and
/// parameters. Quoted values may hold commas.
fn parse_challenge(value: &str) -> Option<(String, HashMap<String, String>)> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next().is_none() {
            break;
        }
        let mut val = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            val = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        params.insert(key.trim().to_ascii_lowercase(), val);
    }
    Some((scheme.to_string(), params))
}

fn base_url(base: &str) -> Result<Url, String> {
    let trimmed = base.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("it is empty".into());
    }
    let full = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        let scheme = if is_loopback(trimmed) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{trimmed}")
    };
    let url = Url::parse(&full).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "scheme {}:// is neither http nor https",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it holds credentials; pass the user name and password separately".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("write host[:port] or scheme://host[:port], without a path".into());
    }
    Ok(url)
}

/// `host[:port]` names this machine: 127.0.0.0/8, `localhost` or `[::1]`.
pub fn is_loopback(host_port: &str) -> bool {
    let Ok(url) = Url::parse(&format!("http://{host_port}")) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The addresses of a registry's host (`host[:port]`), for an engine's insecure CIDRs;
/// none when it does not resolve (the engine then finds none either).
pub async fn resolve_host(registry: &str) -> Vec<IpAddr> {
    let Ok(url) = Url::parse(&format!("http://{registry}")) else {
        return Vec::new();
    };
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::net::lookup_host((host, url.port().unwrap_or(80))).await {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Which registries a container engine talks plain HTTP to: its `insecure-registries` as
/// `GET /info` reports them under `RegistryConfig` (Docker; podman's compatible API answers
/// the same shape from registries.conf). The engine's own rule, kept here: a registry named
/// in `IndexConfigs` is as secure as that entry says; any other is plain HTTP when one of
/// its addresses lies in `InsecureRegistryCIDRs` (127.0.0.0/8 by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineRegistries {
    /// Registry name (`host[:port]`, as images name it) → secure.
    index: HashMap<String, bool>,
    cidrs: Vec<Cidr>,
}

impl EngineRegistries {
    /// `index`: the `IndexConfigs` names with their `Secure`; `cidrs`: the
    /// `InsecureRegistryCIDRs`. A CIDR that does not parse is left out.
    pub fn new<S: AsRef<str>>(
        index: impl IntoIterator<Item = (String, bool)>,
        cidrs: impl IntoIterator<Item = S>,
    ) -> EngineRegistries {
        EngineRegistries {
            index: index.into_iter().collect(),
            cidrs: cidrs
                .into_iter()
                .filter_map(|c| Cidr::parse(c.as_ref()))
                .collect(),
        }
    }

    /// From the `RegistryConfig` object of the engine's `GET /info` answer. What is missing
    /// or of another type reads as absent.
    pub fn from_registry_config(config: &serde_json::Value) -> EngineRegistries {
        let index = config["IndexConfigs"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(name, c)| (name.clone(), c["Secure"].as_bool().unwrap_or(true)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let cidrs: Vec<&str> = config["InsecureRegistryCIDRs"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
            .unwrap_or_default();
        EngineRegistries::new(index, cidrs)
    }

    /// Why the engine talks plain HTTP to `registry` (`host[:port]` as an image names it),
    /// or `None` when it insists on HTTPS. `addrs` are the host's addresses as resolved by
    /// the caller; a host written as an IP address is checked as itself.
    pub fn plain_http(&self, registry: &str, addrs: &[IpAddr]) -> Option<String> {
        let name = registry
            .trim()
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        if let Some(secure) = self.index.get(name) {
            return (!secure).then(|| format!("the engine's insecure-registries lists {name}"));
        }
        let mut candidates: Vec<IpAddr> = addrs.to_vec();
        if let Some(ip) = host_ip(name) {
            candidates.push(ip);
        }
        candidates.iter().find_map(|ip| {
            self.cidrs
                .iter()
                .find(|c| c.contains(*ip))
                .map(|c| format!("{ip} lies in {c}, one of the engine's insecure-registries"))
        })
    }
}

/// The IP address a `host[:port]` is written as, if it is one.
fn host_ip(host_port: &str) -> Option<IpAddr> {
    let url = Url::parse(&format!("http://{host_port}")).ok()?;
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// An address range as `a.b.c.d/n` or `x:y::/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.trim().split_once('/')?;
        let net: IpAddr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { net, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |n: u128, width: u32| -> u128 {
            let keep = u32::from(self.prefix);
            if keep == 0 { 0 } else { n >> (width - keep) }
        };
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                bits(u128::from(u32::from(net)), 32) == bits(u128::from(u32::from(ip)), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                bits(u128::from(net), 128) == bits(u128::from(ip), 128)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Repository paths follow [`ImageRef`]'s rules: lowercase components of letters, digits,
/// `.`, `_`, `-`, no `..`, no spaces, no registry, tag or digest.
fn check_repository(repo: &str) -> Result<(), RegistryError> {
    let invalid = |reason: String| RegistryError::InvalidName {
        what: "repository",
        value: repo.to_string(),
        reason,
    };
    // The placeholder host makes ImageRef read every component as part of the repository.
    match ImageRef::parse(&format!("registry.invalid/{repo}")) {
        Ok(r) if r.repository == repo && r.tag.is_none() && r.digest.is_none() => Ok(()),
        Ok(_) => Err(invalid(
            "write the repository path alone (funaistudio/u1-app2), without registry, tag or digest"
                .into(),
        )),
        Err(e) => Err(invalid(e)),
    }
}

/// Tags follow [`ImageRef`]'s rules: `[A-Za-z0-9_.-]{1,128}`, not starting with `.` or `-`.
fn check_tag(tag: &str) -> Result<(), RegistryError> {
    let invalid = |reason: String| RegistryError::InvalidName {
        what: "tag",
        value: tag.to_string(),
        reason,
    };
    match ImageRef::parse(&format!("registry.invalid/x:{tag}")) {
        Ok(r) if r.tag.as_deref() == Some(tag) && r.repository == "x" => Ok(()),
        Ok(_) => Err(invalid("is not a tag".into())),
        Err(e) => Err(invalid(e)),
    }
}

/// `algorithm:hex`, as the registry names content.
fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algo, hex)) = digest.split_once(':') else {
        return Err("has no algorithm".into());
    };
    let algo_ok = !algo.is_empty()
        && algo.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '_' | '-')
        });
    let hex_ok = hex.len() >= 32 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    if algo_ok && hex_ok {
        Ok(())
    } else {
        Err("is not algorithm:lowercase-hex".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(tag: &str, digest: &str, day: u32) -> TagInfo {
        TagInfo {
            tag: tag.into(),
            digest: format!("sha256:{}", digest.repeat(64 / digest.len())),
            created: DateTime::parse_from_rfc3339(&format!("2026-01-{day:02}T00:00:00Z"))
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
            note: None,
        }
    }

    fn tags(list: &[TagInfo]) -> Vec<&str> {
        list.iter().map(|t| t.tag.as_str()).collect()
    }

    #[test]
    fn bare_hosts_are_http_on_loopback_and_https_elsewhere() {
        let scheme = |b: &str| base_url(b).map(|u| u.as_str().to_string());
        assert_eq!(
            scheme("127.0.0.1:5000"),
            Ok("http://127.0.0.1:5000/".into())
        );
        assert_eq!(scheme("127.8.9.10"), Ok("http://127.8.9.10/".into()));
        assert_eq!(
            scheme("localhost:5000"),
            Ok("http://localhost:5000/".into())
        );
        assert_eq!(scheme("[::1]:5000"), Ok("http://[::1]:5000/".into()));
        assert_eq!(
            scheme("harbor.example"),
            Ok("https://harbor.example/".into())
        );
        assert_eq!(scheme("10.0.0.3:5000"), Ok("https://10.0.0.3:5000/".into()));
        assert_eq!(
            scheme("http://harbor.example/"),
            Ok("http://harbor.example/".into())
        );
        assert_eq!(
            scheme("https://127.0.0.1:5000"),
            Ok("https://127.0.0.1:5000/".into())
        );
        assert!(base_url("").is_err());
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("https://u:p@harbor.example").is_err());
        assert!(base_url("harbor.example/library").is_err());
    }

    #[test]
    fn insecure_makes_a_bare_host_plain_http_and_leaves_a_written_scheme() {
        let origin = |base: &str, insecure: bool| {
            RegistryClient::new(base, None, None)
                .map(|c| c.insecure(insecure).registry().to_string())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(origin("10.0.0.3", true), "http://10.0.0.3");
        assert_eq!(origin("10.0.0.3", false), "https://10.0.0.3");
        assert_eq!(origin("10.0.0.3:5000", true), "http://10.0.0.3:5000");
        assert_eq!(origin("10.0.0.3:443", true), "http://10.0.0.3:443");
        assert_eq!(origin("10.0.0.3/", true), "http://10.0.0.3");
        assert_eq!(origin("harbor.internal", true), "http://harbor.internal");
        assert_eq!(origin("https://10.0.0.3", true), "https://10.0.0.3");
        assert_eq!(origin("127.0.0.1:5000", false), "http://127.0.0.1:5000");
        let plain = RegistryClient::new("10.0.0.3", None, None)
            .map(|c| c.insecure(true))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(plain.is_plain_http());
    }

    #[test]
    fn the_engine_rule_names_plain_http_registries() {
        let info = serde_json::json!({
            "IndexConfigs": {
                "docker.io": {"Name": "docker.io", "Secure": true, "Official": true},
                "10.0.0.103": {"Name": "10.0.0.103", "Secure": false},
                "harbor.internal:5000": {"Name": "harbor.internal:5000", "Secure": false},
                "10.9.0.1": {"Name": "10.9.0.1", "Secure": true}
            },
            "InsecureRegistryCIDRs": ["127.0.0.0/8", "10.9.0.0/16", "fd00:1::/64", "bogus"]
        });
        let e = EngineRegistries::from_registry_config(&info);
        let plain = |r: &str, addrs: &[IpAddr]| e.plain_http(r, addrs);
        assert!(plain("10.0.0.103", &[]).is_some_and(|w| w.contains("lists 10.0.0.103")));
        // The engine matches names exactly: the same host with a port is another registry.
        assert_eq!(plain("10.0.0.103:80", &[]), None);
        assert!(plain("harbor.internal:5000", &[]).is_some());
        assert!(plain("127.0.0.1:5000", &[]).is_some_and(|w| w.contains("127.0.0.0/8")));
        assert!(plain("10.9.3.4", &[]).is_some_and(|w| w.contains("10.9.0.0/16")));
        // A secure entry wins over the CIDR it lies in.
        assert_eq!(plain("10.9.0.1", &[]), None);
        assert_eq!(plain("10.0.0.3", &[]), None);
        assert_eq!(plain("[fd00:1::5]:5000", &[]), plain("[fd00:1::5]", &[]));
        assert!(plain("[fd00:1::5]", &[]).is_some());
        // A host name is checked by the addresses it resolves to.
        let resolved: IpAddr = "10.9.7.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(plain("registry.lan", &[resolved]).is_some());
        assert_eq!(plain("registry.lan", &[]), None);
        assert_eq!(
            EngineRegistries::default().plain_http("127.0.0.1", &[]),
            None
        );
        let c = |t: &str| Cidr::parse(t);
        assert!(c("0.0.0.0/0").is_some_and(|c| c.contains(IpAddr::from([8, 8, 8, 8]))));
        assert!(c("10.0.0.0/33").is_none());
        assert!(c("10.0.0.1/32").is_some_and(|c| !c.contains(IpAddr::from([10, 0, 0, 2]))));
    }

    #[test]
    fn debug_of_the_client_hides_the_password() {
        let c = RegistryClient::new(
            "127.0.0.1:5000",
            Some("funai".into()),
            Some(Secret::new("hunter2-registry")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***") && shown.contains("funai"), "{shown}");
    }

    #[test]
    fn names_and_tags_follow_the_image_reference_rules() {
        assert!(check_repository("funaistudio/u1-app2").is_ok());
        assert!(check_repository("app").is_ok());
        for bad in [
            "",
            "../etc",
            "a/../b",
            "a b",
            "A/b",
            "a:1",
            "a@sha256:00",
            "/a",
            "a/",
        ] {
            assert!(check_repository(bad).is_err(), "{bad:?} passed");
        }
        assert!(check_tag("v1.2.3_rc-1").is_ok());
        for bad in ["", "..", ".x", "-x", "a b", "a/b", "a:b", &"x".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad:?} passed");
        }
        assert!(check_digest(&format!("sha256:{}", "ab".repeat(32))).is_ok());
        assert!(check_digest("sha256:../../x").is_err());
        assert!(check_digest("latest").is_err());
    }

    #[test]
    fn challenges_and_links_are_parsed() {
        let (scheme, p) = parse_challenge(
            r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:lib/a:pull,push""#,
        )
        .unwrap_or_default();
        assert_eq!(scheme, "Bearer");
        assert_eq!(p["realm"], "https://harbor.example/service/token");
        assert_eq!(p["service"], "harbor-registry");
        assert_eq!(p["scope"], "repository:lib/a:pull,push");
        let (scheme, p) = parse_challenge(r#"Basic realm="funai-test""#).unwrap_or_default();
        assert_eq!(
            (scheme.as_str(), p["realm"].as_str()),
            ("Basic", "funai-test")
        );
        assert_eq!(
            next_link(r#"</v2/_catalog?last=a%2Fb&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=a%2Fb&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }

    #[test]
    fn registry_messages_are_quoted() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        let (code, msg) = registry_message(body, StatusCode::NOT_FOUND);
        assert_eq!(code.as_deref(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(msg, "manifest unknown (MANIFEST_UNKNOWN)");
        let (code, msg) = registry_message(b"", StatusCode::NOT_FOUND);
        assert_eq!((code, msg.as_str()), (None, "not found (no error body)"));
    }

    #[test]
    fn plan_keeps_the_newest_by_created_then_tag_descending() {
        let all = vec![
            info("a", "1", 1),
            info("b", "2", 5),
            info("c", "3", 3),
            info("d", "4", 3),
            info("e", "5", 2),
        ];
        let plan = Plan::compute(all, 3, &[]);
        assert_eq!(tags(&plan.keep), ["b", "d", "c"]);
        assert_eq!(tags(&plan.delete), ["e", "a"]);
        assert!(plan.delete.iter().all(|t| t.note.is_none()));
    }

    #[test]
    fn plan_never_deletes_protected_or_digest_sharing_tags() {
        let all = vec![
            info("new", "1", 9),
            info("new-alias", "1", 9),
            info("mid", "2", 5),
            info("old", "3", 1),
            info("old-alias", "3", 1),
            info("older", "4", 1),
        ];
        let plan = Plan::compute(all, 1, &["old".to_string(), "absent".to_string()]);
        // "new-alias" sorts before "new" on the tie, so "new" stays for sharing its digest.
        assert_eq!(tags(&plan.keep), ["new-alias", "new", "old-alias", "old"]);
        assert_eq!(tags(&plan.delete), ["mid", "older"]);
        let note = |t: &str| {
            plan.keep
                .iter()
                .find(|k| k.tag == t)
                .and_then(|k| k.note.clone())
                .unwrap_or_default()
        };
        assert_eq!(note("old"), "protected");
        assert!(note("new").contains("new-alias"), "{}", note("new"));
        assert!(
            note("old-alias").contains("kept tag old"),
            "{}",
            note("old-alias")
        );
        assert_eq!(
            Plan::compute(vec![info("a", "1", 1)], 0, &[]).delete.len(),
            1
        );
    }
}
