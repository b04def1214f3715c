//! Validation of everything that arrives from the wire: one function per kind of field,
//! each answering with a message that names what is wrong.

/// `appId`, `userId`, node names and runner ids: `[A-Za-z0-9_-]{1,64}`.
pub fn id(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 64 {
        return Err(format!(
            "is {} characters long, at most 64 allowed",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "contains {c:?}; only letters, digits, '_' and '-' are allowed"
        ));
    }
    Ok(())
}

/// Node names and runner ids also allow dots (host names).
pub fn name(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 128 {
        return Err(format!(
            "is {} characters long, at most 128 allowed",
            value.len()
        ));
    }
    if value.starts_with('.') || value.contains("..") {
        return Err("must not start with '.' or contain '..'".into());
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "contains {c:?}; only letters, digits, '_', '-' and '.' are allowed"
        ));
    }
    Ok(())
}

/// The version an agent says it runs (`0.1.0 (2657bbe)`): shown as it came in listings and
/// tables, so printable ASCII only, at most 64 characters.
pub fn agent_version(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty (leave the field out instead)".into());
    }
    if value.len() > 64 {
        return Err(format!(
            "is {} characters long, at most 64 allowed",
            value.len()
        ));
    }
    if let Some(c) = value.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        return Err(format!(
            "contains {c:?}; only printable ASCII characters are allowed"
        ));
    }
    Ok(())
}

/// A Git ref: a branch, a tag or a commit. Never an option (`-`), never a control character.
pub fn git_ref(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 255 {
        return Err("is longer than 255 characters".into());
    }
    if value.starts_with('-') {
        return Err("must not start with '-'".into());
    }
    if value.contains("..")
        || value.ends_with('/')
        || value.ends_with(".lock")
        || value.starts_with('/')
    {
        return Err("is not a valid Git ref name".into());
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Err(format!("contains {c:?}, which a Git ref cannot hold"));
    }
    Ok(())
}

/// An SSH repository URL: `ssh://[user@]host[:port]/path` or scp-like `user@host:path`.
pub fn repo_ssh_url(value: &str) -> Result<(), String> {
    if value.starts_with('-') {
        return Err("must not start with '-'".into());
    }
    if value.len() > 1024 {
        return Err("is longer than 1024 characters".into());
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters".into());
    }
    if let Some(rest) = value.strip_prefix("ssh://") {
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| "has no repository path after the host".to_string())?;
        let host = authority.rsplit('@').next().unwrap_or_default();
        let host = host.split(':').next().unwrap_or_default();
        if host.is_empty() || host.starts_with('-') {
            return Err("has no valid host".into());
        }
        if path.is_empty() {
            return Err("has no repository path after the host".into());
        }
        return Ok(());
    }
    // scp-like: user@host:path
    if let Some((authority, path)) = value.split_once(':')
        && authority.contains('@')
        && !path.is_empty()
        && !authority.contains('/')
    {
        let host = authority.rsplit('@').next().unwrap_or_default();
        if host.is_empty() || host.starts_with('-') {
            return Err("has no valid host".into());
        }
        return Ok(());
    }
    Err("must be ssh://[user@]host[:port]/path or user@host:path".into())
}

/// A path inside the repository checkout: relative, no `..` component, no NUL.
pub fn repo_relative_path(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 1024 {
        return Err("is longer than 1024 characters".into());
    }
    if value.starts_with('/') || value.starts_with('\\') {
        return Err("must be relative to the repository root".into());
    }
    if value.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    if value.split(['/', '\\']).any(|part| part == "..") {
        return Err("must not leave the repository ('..')".into());
    }
    Ok(())
}

/// The route prefix of an app: `/segment[/segment...]`, no trailing slash, no `..`.
pub fn base_path(value: &str) -> Result<(), String> {
    if !value.starts_with('/') || value.len() < 2 {
        return Err("must start with '/' and name at least one segment".into());
    }
    if value.ends_with('/') {
        return Err("must not end with '/'".into());
    }
    if value.len() > 256 {
        return Err("is longer than 256 characters".into());
    }
    for seg in value[1..].split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err("has an empty, '.' or '..' segment".into());
        }
        if let Some(c) = seg
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(format!("contains {c:?}"));
        }
    }
    Ok(())
}

/// A TCP port an app listens on: 1..=65535.
pub fn port(value: i64) -> Result<u16, String> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{value} is not a port (1-65535)"))
}

/// A parsed image reference `[registry[:port]/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(value: &str) -> Result<ImageRef, String> {
        if value.is_empty() {
            return Err("must not be empty".into());
        }
        if value.len() > 512 {
            return Err("is longer than 512 characters".into());
        }
        if value.starts_with('-') {
            return Err("must not start with '-'".into());
        }
        if let Some(c) = value.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("contains {c:?}; an image reference has no spaces"));
        }
        let (rest, digest) = match value.split_once('@') {
            Some((r, d)) => {
                let (algo, hex) = d
                    .split_once(':')
                    .ok_or_else(|| "has a digest without an algorithm".to_string())?;
                if algo.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit())
                {
                    return Err("has an invalid digest".into());
                }
                (r, Some(d.to_string()))
            }
            None => (value, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|s| i > s) => {
                (&rest[..i], Some(rest[i + 1..].to_string()))
            }
            _ => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && !t.starts_with(['.', '-'])
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                return Err(format!("has an invalid tag {t:?}"));
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let registry = if parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
        {
            Some(parts.remove(0).to_string())
        } else {
            None
        };
        if let Some(r) = &registry
            && !r
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(format!("has an invalid registry host {r:?}"));
        }
        for p in &parts {
            let ok = !p.is_empty()
                && p.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
                && p.starts_with(|c: char| c.is_ascii_alphanumeric())
                && p.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(format!(
                    "has an invalid repository component {p:?} (lowercase letters, digits, '.', '_', '-')"
                ));
            }
        }
        Ok(ImageRef {
            registry,
            repository: parts.join("/"),
            tag,
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_paths_and_traversal() {
        assert!(id("20002").is_ok());
        assert!(id("app_1-x").is_ok());
        assert!(id("a/b").is_err());
        assert!(id("..").is_err());
        assert!(id("").is_err());
        assert!(id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn agent_versions_are_short_and_printable() {
        assert!(agent_version("0.1.0 (2657bbe)").is_ok());
        assert!(agent_version("0.1.0 (unknown commit)").is_ok());
        assert!(agent_version("").is_err());
        assert!(agent_version("  ").is_err());
        assert!(agent_version(&"1".repeat(65)).is_err());
        assert!(agent_version("0.1.0\n(x)").is_err());
        assert!(agent_version("0.1.0\u{1b}[31m").is_err());
    }

    #[test]
    fn git_refs_refuse_options() {
        assert!(git_ref("main").is_ok());
        assert!(git_ref("v1.2.3").is_ok());
        assert!(git_ref("feature/x").is_ok());
        assert!(git_ref("0123456789abcdef0123456789abcdef01234567").is_ok());
        assert!(git_ref("--upload-pack=touch /tmp/x").is_err());
        assert!(git_ref("a..b").is_err());
        assert!(git_ref("a b").is_err());
    }

    #[test]
    fn ssh_urls() {
        assert!(repo_ssh_url("ssh://git@127.0.0.1:2222/srv/git/app.git").is_ok());
        assert!(repo_ssh_url("git@github.com:org/app.git").is_ok());
        assert!(repo_ssh_url("-oProxyCommand=x").is_err());
        assert!(repo_ssh_url("ssh://-oProxyCommand=x/a").is_err());
        assert!(repo_ssh_url("https://example.com/a.git").is_err());
        assert!(repo_ssh_url("ssh://git@host/a b").is_err());
    }

    #[test]
    fn paths_stay_inside() {
        assert!(repo_relative_path("Dockerfile").is_ok());
        assert!(repo_relative_path("docker/Dockerfile.prod").is_ok());
        assert!(repo_relative_path("../etc/passwd").is_err());
        assert!(repo_relative_path("a/../../b").is_err());
        assert!(repo_relative_path("/etc/passwd").is_err());
    }

    #[test]
    fn image_references() {
        let r = ImageRef::parse("127.0.0.1:5000/funaistudio/u1-app2:abc123")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(r.repository, "funaistudio/u1-app2");
        assert_eq!(r.tag.as_deref(), Some("abc123"));
        assert!(ImageRef::parse("busybox").is_ok());
        assert!(ImageRef::parse("my image:1").is_err());
        assert!(ImageRef::parse("UPPER/case").is_err());
        assert!(ImageRef::parse("repo:bad tag").is_err());
        assert!(ImageRef::parse("-x").is_err());
    }

    #[test]
    fn base_paths_and_ports() {
        assert!(base_path("/runtime/12").is_ok());
        assert!(base_path("/runtime/12/").is_err());
        assert!(base_path("/runtime/../x").is_err());
        assert!(port(0).is_err());
        assert!(port(70000).is_err());
        assert_eq!(port(3000), Ok(3000));
    }
}
