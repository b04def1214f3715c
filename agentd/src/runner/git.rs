//! Clone over SSH with libgit2: the deploy key, a strict `known_hosts`, then the checkout
//! of a branch, a tag or a commit. Each failure says which of those went wrong.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use git2::build::{CheckoutBuilder, RepoBuilder};
use git2::{CertificateCheckStatus, Cred, FetchOptions, RemoteCallbacks, Repository};
use probe::{HostKeyVerdict, KnownHostsFile};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "host key mismatch for the Git server {host}: its key is not the one in {known_hosts}; if the server was re-keyed, update known_hosts"
    )]
    HostKeyMismatch { host: String, known_hosts: String },
    #[error(
        "the Git server {host} is not in {known_hosts}: add its host key (ssh-keyscan -p PORT HOST)"
    )]
    UnknownHost { host: String, known_hosts: String },
    #[error(
        "the Git server {host} refused the deploy key {key}: add its public key to the repository's deploy keys"
    )]
    KeyRefused { host: String, key: String },
    #[error("cannot read the deploy key {key}: {message}")]
    KeyUnreadable { key: String, message: String },
    #[error("cannot read known_hosts {path}: {message}")]
    KnownHostsUnreadable { path: String, message: String },
    #[error("ref {git_ref} not found in {url} (branches: {branches}; tags: {tags})")]
    RefNotFound {
        git_ref: String,
        url: String,
        branches: String,
        tags: String,
    },
    #[error("cannot reach the Git server {host}: {message}")]
    Unreachable { host: String, message: String },
    #[error(
        "the repository {url} does not exist on the Git server {host}: create it there, or correct repoSshUrl ({message})"
    )]
    RepoNotFound {
        host: String,
        url: String,
        message: String,
    },
    #[error("clone of {url} failed: {message}")]
    Clone { url: String, message: String },
    #[error("checkout of {git_ref} failed: {message}")]
    Checkout { git_ref: String, message: String },
    #[error("clone cancelled")]
    Cancelled,
}

/// What the runner needs to clone.
#[derive(Debug, Clone)]
pub struct CloneSpec {
    pub url: String,
    pub git_ref: String,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    pub dest: PathBuf,
}

/// The host, its port, and `[host]:port` as known_hosts spells them, from an ssh:// or
/// scp-like URL.
pub fn known_hosts_name(url: &str) -> Option<(String, u16, String)> {
    let (authority, port) = if let Some(rest) = url.strip_prefix("ssh://") {
        let authority = rest.split('/').next()?;
        let hostport = authority.rsplit('@').next()?;
        match hostport.rsplit_once(':') {
            Some((h, p)) if !h.contains(']') || h.ends_with(']') => {
                (h.trim_matches(['[', ']']).to_string(), Some(p.to_string()))
            }
            _ => (hostport.trim_matches(['[', ']']).to_string(), None),
        }
    } else {
        let (auth, _) = url.split_once(':')?;
        (auth.rsplit('@').next()?.to_string(), None)
    };
    let port: u16 = match port.as_deref() {
        None => 22,
        Some(p) => p.parse().ok()?,
    };
    let name = match port {
        22 => authority.clone(),
        p => format!("[{authority}]:{p}"),
    };
    Some((authority, port, name))
}

fn user_of(url: &str) -> String {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    rest.split('/')
        .next()
        .and_then(|a| a.split_once('@').map(|(u, _)| u.to_string()))
        .unwrap_or_else(|| "git".into())
}

/// Clones `spec.url` into `spec.dest`, checks out `spec.git_ref` (branch, tag or commit),
/// and answers the commit's full hex id. Blocking: run it on a blocking thread.
pub fn clone_and_checkout(
    spec: &CloneSpec,
    cancel: Arc<AtomicBool>,
    mut progress: impl FnMut(&str),
) -> Result<String, GitError> {
    if spec.url.starts_with("file://") {
        // A local stack: no SSH, no credentials.
        let mut cb = RemoteCallbacks::new();
        cb.transfer_progress(move |_| !cancel.load(Ordering::SeqCst));
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(cb);
        fo.download_tags(git2::AutotagOption::All);
        progress(&format!("cloning {} ...", spec.url));
        let repo = RepoBuilder::new()
            .fetch_options(fo)
            .clone(&spec.url, &spec.dest)
            .map_err(|e| GitError::Clone {
                url: spec.url.clone(),
                message: e.message().to_string(),
            })?;
        return checkout(&repo, &spec.url, &spec.git_ref);
    }
    let (host, port, kh_name) = known_hosts_name(&spec.url).ok_or_else(|| GitError::Clone {
        url: spec.url.clone(),
        message: "cannot find the host in the URL".into(),
    })?;
    let known = KnownHostsFile::read(&spec.known_hosts).map_err(|message| {
        GitError::KnownHostsUnreadable {
            path: spec.known_hosts.display().to_string(),
            message,
        }
    })?;
    if !spec.key.exists() {
        return Err(GitError::KeyUnreadable {
            key: spec.key.display().to_string(),
            message: "no such file".into(),
        });
    }
    let host_verdict: Arc<std::sync::Mutex<Option<GitError>>> = Arc::default();
    let auth_tries = Arc::new(AtomicUsize::new(0));
    let mut cb = RemoteCallbacks::new();
    {
        let verdict = host_verdict.clone();
        let known_hosts = spec.known_hosts.display().to_string();
        let kh_name = kh_name.clone();
        let host = host.clone();
        cb.certificate_check(move |cert, _host| {
            // No key offered checks as a key that matches nothing.
            let offered = cert
                .as_hostkey()
                .and_then(|h| h.hostkey())
                .unwrap_or_default();
            let err = match known.check(&host, port, offered) {
                Ok(HostKeyVerdict::Match) => return Ok(CertificateCheckStatus::CertificateOk),
                Ok(HostKeyVerdict::Unknown) => GitError::UnknownHost {
                    host: kh_name.clone(),
                    known_hosts: known_hosts.clone(),
                },
                Ok(HostKeyVerdict::Mismatch) => GitError::HostKeyMismatch {
                    host: kh_name.clone(),
                    known_hosts: known_hosts.clone(),
                },
                Err(message) => GitError::KnownHostsUnreadable {
                    path: known_hosts.clone(),
                    message,
                },
            };
            let msg = err.to_string();
            *verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(err);
            Err(git2::Error::from_str(&msg))
        });
    }
    {
        let key = spec.key.clone();
        let tries = auth_tries.clone();
        let user = user_of(&spec.url);
        cb.credentials(move |_url, username, _allowed| {
            // libgit2 asks again after a refusal; one try is all a deploy key gets.
            if tries.fetch_add(1, Ordering::SeqCst) > 0 {
                return Err(git2::Error::from_str("deploy key refused"));
            }
            Cred::ssh_key(username.unwrap_or(&user), None, &key, None)
        });
    }
    {
        // libgit2 stops the transfer when a progress callback answers false.
        let c = cancel.clone();
        cb.transfer_progress(move |_| !c.load(Ordering::SeqCst));
        let c = cancel.clone();
        cb.sideband_progress(move |_| !c.load(Ordering::SeqCst));
    }
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(cb);
    fo.download_tags(git2::AutotagOption::All);
    progress(&format!("cloning {} ...", spec.url));
    let repo = RepoBuilder::new()
        .fetch_options(fo)
        .clone(&spec.url, &spec.dest)
        .map_err(|e| {
            if cancel.load(Ordering::SeqCst) {
                return GitError::Cancelled;
            }
            if let Some(v) = host_verdict
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                return v;
            }
            let msg = e.message().to_string();
            if auth_tries.load(Ordering::SeqCst) > 0
                && (msg.contains("authenticat") || msg.contains("deploy key refused"))
            {
                return GitError::KeyRefused {
                    host: kh_name.clone(),
                    key: spec.key.display().to_string(),
                };
            }
            if msg.contains("failed to connect")
                || msg.contains("Connection refused")
                || msg.contains("timed out")
            {
                return GitError::Unreachable {
                    host: kh_name.clone(),
                    message: msg,
                };
            }
            if e.class() == git2::ErrorClass::Net
                || e.class() == git2::ErrorClass::Ssh && auth_tries.load(Ordering::SeqCst) == 0
            {
                return GitError::Unreachable {
                    host: host.clone(),
                    message: msg,
                };
            }
            if repo_missing(&msg) {
                return GitError::RepoNotFound {
                    host: kh_name.clone(),
                    url: spec.url.clone(),
                    message: msg,
                };
            }
            GitError::Clone {
                url: spec.url.clone(),
                message: msg,
            }
        })?;
    checkout(&repo, &spec.url, &spec.git_ref)
}

/// What the Git server says, through libgit2, of a repository path it does not have.
fn repo_missing(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("does not appear to be a git repository")
        || m.contains("repository not found")
        || m.contains("no such repository")
}

fn checkout(repo: &Repository, url: &str, git_ref: &str) -> Result<String, GitError> {
    let candidates = [
        format!("refs/remotes/origin/{git_ref}"),
        format!("refs/tags/{git_ref}"),
        git_ref.to_string(),
    ];
    let mut commit = None;
    for c in &candidates {
        if let Ok(obj) = repo.revparse_single(c)
            && let Ok(cm) = obj.peel_to_commit()
        {
            commit = Some(cm);
            break;
        }
    }
    let Some(commit) = commit else {
        let list = |prefix: &str| {
            repo.references_glob(&format!("{prefix}*"))
                .map(|refs| {
                    refs.filter_map(|r| r.ok())
                        .filter_map(|r| {
                            r.name()
                                .ok()
                                .map(|n| n.trim_start_matches(prefix).to_string())
                        })
                        .filter(|n| n != "HEAD")
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        return Err(GitError::RefNotFound {
            git_ref: git_ref.into(),
            url: url.into(),
            branches: list("refs/remotes/origin/"),
            tags: list("refs/tags/"),
        });
    };
    let co = |e: git2::Error| GitError::Checkout {
        git_ref: git_ref.into(),
        message: e.message().to_string(),
    };
    repo.checkout_tree(commit.as_object(), Some(CheckoutBuilder::new().force()))
        .map_err(co)?;
    repo.set_head_detached(commit.id()).map_err(co)?;
    Ok(commit.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::known_hosts_name;

    #[test]
    fn known_hosts_names() {
        assert_eq!(
            known_hosts_name("ssh://git@127.0.0.1:2222/srv/a.git"),
            Some(("127.0.0.1".into(), 2222, "[127.0.0.1]:2222".into()))
        );
        assert_eq!(
            known_hosts_name("ssh://git@gitea.local/a.git"),
            Some(("gitea.local".into(), 22, "gitea.local".into()))
        );
        assert_eq!(
            known_hosts_name("git@github.com:org/a.git"),
            Some(("github.com".into(), 22, "github.com".into()))
        );
    }
}
