//! Failure codes: why a job or an agent call failed, as a stable machine code beside the
//! human message. Producers set the code where they know the cause; `functl doctor` maps a
//! code to its cause and fix. Messages may be reworded; codes are the contract.
//!
//! On the wire a code is a string (`errorCode` of a report and a job, `code` of an agent
//! error): a newer agent's code that this build does not know still travels and is kept.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)*) => {
        /// The failure codes this build knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum FailureCode {
            $($(#[$doc])* #[serde(rename = $text)] $name,)*
        }

        impl FailureCode {
            pub const ALL: &'static [FailureCode] = &[$(FailureCode::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(FailureCode::$name => $text,)*
                }
            }

            pub fn parse(s: &str) -> Option<FailureCode> {
                match s {
                    $($text => Some(FailureCode::$name),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// The Git server's host key is not the one in known_hosts.
    GitHostKey = "GIT_HOST_KEY",
    /// The Git server is not in known_hosts.
    GitHostUnknown = "GIT_HOST_UNKNOWN",
    /// The Git server refused the deploy key.
    GitAuth = "GIT_AUTH",
    /// The Git server's SSH port cannot be reached.
    GitUnreachable = "GIT_UNREACHABLE",
    /// The repository path does not exist on the Git server.
    GitRepoNotFound = "GIT_REPO_NOT_FOUND",
    /// The branch, tag or commit is not in the repository.
    GitRefNotFound = "GIT_REF_NOT_FOUND",
    /// The runner cannot read its deploy key or known_hosts.
    GitLocalFiles = "GIT_LOCAL_FILES",
    /// Any other clone failure.
    GitClone = "GIT_CLONE",
    /// The build context could not be made (a path leaving the repository, a missing Dockerfile).
    BuildContext = "BUILD_CONTEXT",
    /// A build step failed.
    BuildFailed = "BUILD_FAILED",
    /// The registry speaks plain HTTP and the engine was not told to allow it.
    RegistryInsecure = "REGISTRY_INSECURE",
    /// The registry refused the credentials.
    RegistryAuth = "REGISTRY_AUTH",
    /// The registry cannot be reached.
    RegistryUnreachable = "REGISTRY_UNREACHABLE",
    /// The image is not in the registry.
    ImageNotFound = "IMAGE_NOT_FOUND",
    /// Any other push or pull failure.
    RegistryFailed = "REGISTRY_FAILED",
    /// The container started but nothing listens on its container port.
    PortNotListening = "PORT_NOT_LISTENING",
    /// The container exited before it became healthy.
    ContainerExited = "CONTAINER_EXITED",
    /// The container engine (Docker or podman) does not answer.
    EngineUnreachable = "ENGINE_UNREACHABLE",
    /// The container engine answered with an error of its own (create, start, network).
    EngineFailed = "ENGINE_FAILED",
    /// The runtime node's agent cannot be reached.
    AgentUnreachable = "AGENT_UNREACHABLE",
    /// The runtime node's agent refused the runner's token.
    AgentAuth = "AGENT_AUTH",
    /// The runtime node's agent refused the deploy for another reason.
    AgentFailed = "AGENT_FAILED",
    /// The gateway (Traefik or the embedded one) does not route the app.
    RouteNotAnswering = "ROUTE_NOT_ANSWERING",
    /// The runner stopped heartbeating and the job ran out of attempts.
    LeaseExpired = "LEASE_EXPIRED",
    /// A phase (clone, build, push, deploy) ran past its time limit.
    PhaseTimeout = "PHASE_TIMEOUT",
    /// A request refused as malformed (a field out of range, a bad id).
    BadRequest = "BAD_REQUEST",
    /// The thing asked about does not exist there.
    NotFound = "NOT_FOUND",
    /// A deploy of the same app is already in flight on the node.
    DeployInFlight = "DEPLOY_IN_FLIGHT",
    /// Anything else: read the message.
    Internal = "INTERNAL",
    /// The job was cancelled.
    Cancelled = "CANCELLED",
    /// The database refused deployd's host (MySQL error 1130).
    DbHostNotAllowed = "DB_HOST_NOT_ALLOWED",
    /// The database refused deployd's user or password.
    DbAuth = "DB_AUTH",
    /// The database cannot be reached.
    DbUnreachable = "DB_UNREACHABLE",
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code as it may arrive on the wire: upper-case letters, digits and `_`, at most 64.
pub fn is_valid_code(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// What a container engine's own words about a failed push or pull say of the registry.
/// The engine reports these as text only; this is the one place that reads it.
pub fn registry_code(engine_words: &str) -> FailureCode {
    let m = engine_words.to_ascii_lowercase();
    if m.contains("http response to https client")
        || m.contains("speaks plain http")
        || m.contains("as https: add it to insecure-registries")
    {
        FailureCode::RegistryInsecure
    } else if [
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "refused the credentials",
        "denied",
    ]
    .iter()
    .any(|w| m.contains(w))
    {
        FailureCode::RegistryAuth
    } else if m.contains("manifest unknown")
        || m.contains("not found: manifest")
        || m.contains("repository does not exist")
    {
        FailureCode::ImageNotFound
    } else if [
        "connection refused",
        "no route to host",
        "i/o timeout",
        "no such host",
        "network is unreachable",
    ]
    .iter()
    .any(|w| m.contains(w))
    {
        FailureCode::RegistryUnreachable
    } else {
        FailureCode::RegistryFailed
    }
}

/// Where the engine's words say it was refused: `Get "https://HOST[:PORT]/v2/": dial tcp
/// ADDR:443: connect: connection refused`. An engine not told that a registry is insecure
/// tries HTTPS, on 443 when the image names no port; a registry that speaks plain HTTP
/// (Harbor on port 80, as the estate runs it) refuses that connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsRefused {
    /// The registry as the image names it: `host[:port]`.
    pub registry: String,
    /// The port the engine was refused on.
    pub port: u16,
}

/// Reads [`HttpsRefused`] out of a failed push's or pull's words; `None` for any other
/// failure (another scheme, a timeout, a name that does not resolve).
pub fn https_refused(engine_words: &str) -> Option<HttpsRefused> {
    if !engine_words
        .to_ascii_lowercase()
        .contains("connection refused")
    {
        return None;
    }
    let rest = engine_words.split("https://").nth(1)?;
    let registry: String = rest
        .chars()
        .take_while(|c| !matches!(c, '/' | '"' | '\'') && !c.is_whitespace())
        .collect();
    if registry.is_empty() || registry.contains('@') {
        return None;
    }
    let named_port = registry
        .rsplit_once(':')
        .filter(|(host, _)| !host.ends_with(':') && (!host.contains(':') || host.ends_with(']')))
        .and_then(|(_, p)| p.parse::<u16>().ok());
    // The port of the refused connection, from `dial tcp ADDR:PORT:`.
    let dialed = engine_words
        .split("dial tcp ")
        .nth(1)
        .and_then(|d| d.split(": ").next())
        .and_then(|addr| addr.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let port = dialed.or(named_port).unwrap_or(443);
    Some(HttpsRefused { registry, port })
}

/// What to do when a container engine treats a plain-HTTP registry as HTTPS: the words the
/// runner, the runtime node and `functl doctor` all give for `REGISTRY_INSECURE`.
pub fn insecure_registry_fix(registry: &str) -> String {
    format!(
        "the engine treats {registry} as https: add it to insecure-registries, i.e. add \"{registry}\" to insecure-registries in /etc/docker/daemon.json and restart Docker (systemctl restart docker; podman: [[registry]] location = \"{registry}\" insecure = true in /etc/containers/registries.conf)"
    )
}

/// The code of a failure recorded before codes existed, read from its message (the texts
/// agentd and deployd wrote then). Used for old rows only: new failures carry their code.
pub fn code_of_message(message: &str) -> Option<FailureCode> {
    let m = message.to_ascii_lowercase();
    if m.starts_with("clone failed") || m.contains("clone failed:") {
        return Some(if m.contains("host key mismatch") {
            FailureCode::GitHostKey
        } else if m.contains("add its host key") {
            FailureCode::GitHostUnknown
        } else if m.contains("refused the deploy key") {
            FailureCode::GitAuth
        } else if m.contains("cannot reach the git server") {
            FailureCode::GitUnreachable
        } else if m.contains("cannot read the deploy key") || m.contains("cannot read known_hosts")
        {
            FailureCode::GitLocalFiles
        } else if m.contains("not found in") {
            FailureCode::GitRefNotFound
        } else {
            FailureCode::GitClone
        });
    }
    if m.contains("push failed") || m.contains("cannot pull image") {
        return Some(registry_code(&m));
    }
    if m.contains("never became healthy on port") {
        return Some(FailureCode::PortNotListening);
    }
    if m.contains("before becoming healthy") {
        return Some(FailureCode::ContainerExited);
    }
    if m.contains("cannot reach the docker engine") {
        return Some(FailureCode::EngineUnreachable);
    }
    if m.contains("deploy failed") && m.contains("is unreachable") {
        return Some(FailureCode::AgentUnreachable);
    }
    if m.contains("deploy failed") && m.contains("answered 401") {
        return Some(FailureCode::AgentAuth);
    }
    if m.starts_with("lease expired") {
        return Some(FailureCode::LeaseExpired);
    }
    if m.starts_with("build failed") {
        return Some(FailureCode::BuildFailed);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_is_valid_on_the_wire() {
        for c in FailureCode::ALL {
            assert_eq!(FailureCode::parse(c.as_str()), Some(*c));
            assert!(is_valid_code(c.as_str()), "{c}");
            assert_eq!(
                serde_json::to_string(c).unwrap_or_default(),
                format!("\"{c}\"")
            );
        }
        assert_eq!(FailureCode::parse("NOT_A_CODE"), None);
        assert!(is_valid_code("NEWER_AGENT_CODE_2"));
        for bad in ["", "lower", "_X", "A-B", "A B", &"A".repeat(65)] {
            assert!(!is_valid_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_engine_words_name_the_registry_failure() {
        let cases = [
            (
                "Get \"https://10.0.0.3:5000/v2/\": http: server gave HTTP response to HTTPS client",
                FailureCode::RegistryInsecure,
            ),
            (
                "unauthorized: authentication required",
                FailureCode::RegistryAuth,
            ),
            (
                "manifest unknown: manifest unknown",
                FailureCode::ImageNotFound,
            ),
            (
                "Get \"https://10.0.0.3/v2/\": dial tcp 10.0.0.3:443: connect: connection refused",
                FailureCode::RegistryUnreachable,
            ),
            ("something else", FailureCode::RegistryFailed),
        ];
        for (words, code) in cases {
            assert_eq!(registry_code(words), code, "{words}");
        }
    }

    #[test]
    fn a_refused_https_connection_names_the_registry_and_port() {
        let words =
            "Get \"https://10.0.0.103/v2/\": dial tcp 10.0.0.103:443: connect: connection refused";
        assert_eq!(
            https_refused(words),
            Some(HttpsRefused {
                registry: "10.0.0.103".into(),
                port: 443
            })
        );
        let words = "Get \"https://harbor.internal:8443/v2/\": dial tcp 10.0.0.9:8443: connect: connection refused";
        assert_eq!(
            https_refused(words).map(|r| (r.registry, r.port)),
            Some(("harbor.internal:8443".to_string(), 8443))
        );
        let words = "Get \"https://[fd00::3]:5000/v2/\": connect: connection refused";
        assert_eq!(
            https_refused(words).map(|r| (r.registry, r.port)),
            Some(("[fd00::3]:5000".to_string(), 5000))
        );
        for other in [
            "Get \"https://10.0.0.3/v2/\": dial tcp 10.0.0.3:443: i/o timeout",
            "Get \"http://10.0.0.3/v2/\": connection refused",
            "connection refused",
            "unauthorized: authentication required",
        ] {
            assert_eq!(https_refused(other), None, "{other}");
        }
        let fix = insecure_registry_fix("10.0.0.103");
        assert!(
            fix.starts_with("the engine treats 10.0.0.103 as https: add it to insecure-registries")
                && fix.contains("/etc/docker/daemon.json")
                && fix.contains("restart"),
            "{fix}"
        );
    }

    #[test]
    fn old_messages_still_name_their_cause() {
        let cases = [
            (
                "CLONE failed: host key mismatch for the Git server x",
                FailureCode::GitHostKey,
            ),
            (
                "CLONE failed: ref main not found in ssh://x",
                FailureCode::GitRefNotFound,
            ),
            (
                "PUSH failed: cannot push image r/a:b: unauthorized",
                FailureCode::RegistryAuth,
            ),
            (
                "DEPLOY failed: the runtime node answered 502: cannot pull image r/a:b: manifest unknown",
                FailureCode::ImageNotFound,
            ),
            (
                "DEPLOY failed: the runtime node answered 502: the container never became healthy on port 3000",
                FailureCode::PortNotListening,
            ),
            ("lease expired 3 times (max 3)", FailureCode::LeaseExpired),
        ];
        for (m, code) in cases {
            assert_eq!(code_of_message(m), Some(code), "{m}");
        }
        assert_eq!(code_of_message("all good"), None);
    }
}
