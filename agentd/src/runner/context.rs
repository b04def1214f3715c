//! The build context as a tar: `buildContext` and `dockerfilePath` confined to the checkout
//! (symlinks resolved), `.dockerignore` honoured, symlinks inside stored as links.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{field} {value:?} leaves the repository")]
    Escapes { field: &'static str, value: String },
    #[error("{field} {value:?} does not exist in the repository")]
    Missing { field: &'static str, value: String },
    #[error("the Dockerfile {0:?} is missing from the repository")]
    DockerfileMissing(String),
    #[error("cannot read the build context: {0}")]
    Io(String),
}

/// The tar and the Dockerfile's path inside it.
pub struct Context {
    pub tar: Vec<u8>,
    pub dockerfile: String,
    pub files: usize,
}

/// Name under which a Dockerfile from outside the context travels in the tar.
const OUTSIDE_DOCKERFILE: &str = ".funai.Dockerfile";

fn confined(root: &Path, rel: &str, field: &'static str) -> Result<PathBuf, ContextError> {
    protocol::validate::repo_relative_path(rel).map_err(|_| ContextError::Escapes {
        field,
        value: rel.into(),
    })?;
    let joined = root.join(rel);
    let real = joined.canonicalize().map_err(|_| ContextError::Missing {
        field,
        value: rel.into(),
    })?;
    if !real.starts_with(root) {
        return Err(ContextError::Escapes {
            field,
            value: rel.into(),
        });
    }
    Ok(real)
}

pub fn build(
    checkout: &Path,
    build_context: Option<&str>,
    dockerfile_path: &str,
) -> Result<Context, ContextError> {
    let root = checkout
        .canonicalize()
        .map_err(|e| ContextError::Io(e.to_string()))?;
    let ctx = match build_context {
        Some(c) if !c.is_empty() && c != "." => confined(&root, c, "buildContext")?,
        _ => root.clone(),
    };
    if !ctx.is_dir() {
        return Err(ContextError::Missing {
            field: "buildContext",
            value: build_context.unwrap_or(".").into(),
        });
    }
    let dockerfile = match confined(&root, dockerfile_path, "dockerfilePath") {
        Ok(p) => p,
        Err(ContextError::Missing { .. }) => {
            return Err(ContextError::DockerfileMissing(dockerfile_path.into()));
        }
        Err(e) => return Err(e),
    };
    if !dockerfile.is_file() {
        return Err(ContextError::DockerfileMissing(dockerfile_path.into()));
    }
    let ignore = dockerignore(&ctx)?;
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut files = 0;
    let mut stack = vec![ctx.clone()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| ContextError::Io(format!("{}: {e}", dir.display())))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path
                .strip_prefix(&ctx)
                .map_err(|e| ContextError::Io(e.to_string()))?;
            if rel.starts_with(".git") {
                continue;
            }
            let meta =
                std::fs::symlink_metadata(&path).map_err(|e| ContextError::Io(e.to_string()))?;
            let is_dir = meta.is_dir();
            let keep = rel == Path::new(".dockerignore")
                || path == dockerfile
                || !ignore.matched_path_or_any_parents(rel, is_dir).is_ignore();
            if !keep {
                continue;
            }
            if is_dir {
                stack.push(path);
                continue;
            }
            b.append_path_with_name(&path, rel)
                .map_err(|e| ContextError::Io(format!("{}: {e}", rel.display())))?;
            files += 1;
        }
    }
    let dockerfile_in_tar = match dockerfile.strip_prefix(&ctx) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => {
            b.append_path_with_name(&dockerfile, OUTSIDE_DOCKERFILE)
                .map_err(|e| ContextError::Io(e.to_string()))?;
            OUTSIDE_DOCKERFILE.to_string()
        }
    };
    let tar = b
        .into_inner()
        .map_err(|e| ContextError::Io(e.to_string()))?;
    Ok(Context {
        tar,
        dockerfile: dockerfile_in_tar,
        files,
    })
}

fn dockerignore(ctx: &Path) -> Result<Gitignore, ContextError> {
    let mut gb = GitignoreBuilder::new(ctx);
    let path = ctx.join(".dockerignore");
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // .dockerignore patterns are relative to the context root.
            let (neg, pat) = match line.strip_prefix('!') {
                Some(p) => ("!", p),
                None => ("", line),
            };
            let pat = pat.trim_start_matches("./").trim_start_matches('/');
            gb.add_line(None, &format!("{neg}/{pat}"))
                .map_err(|e| ContextError::Io(format!(".dockerignore: {e}")))?;
        }
    }
    gb.build()
        .map_err(|e| ContextError::Io(format!(".dockerignore: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        let mut v: Vec<String> = a
            .entries()
            .map(|es| {
                es.filter_map(|e| e.ok())
                    .map(|e| {
                        e.path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn dockerignore_is_honoured_and_paths_stay_inside() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = d.path();
        for (p, c) in [
            ("Dockerfile", "FROM scratch\n"),
            ("app/index.html", "hi"),
            ("app/secret.env", "x"),
            ("node_modules/a.js", "x"),
            (
                ".dockerignore",
                "node_modules\n*.env\n!keep.env\napp/*.env\n",
            ),
            ("keep.env", "k"),
            ("docker/Dockerfile.prod", "FROM scratch\n"),
        ] {
            std::fs::create_dir_all(r.join(p).parent().unwrap_or(r)).ok();
            std::fs::write(r.join(p), c).ok();
        }
        std::os::unix::fs::symlink("/etc/passwd", r.join("app/link")).ok();
        std::os::unix::fs::symlink("/etc", r.join("escape")).ok();
        let ctx = build(r, None, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        let n = names(&ctx.tar);
        assert!(n.contains(&"app/index.html".to_string()), "{n:?}");
        assert!(!n.iter().any(|x| x.starts_with("node_modules")), "{n:?}");
        assert!(!n.contains(&"app/secret.env".to_string()), "{n:?}");
        assert!(n.contains(&"keep.env".to_string()), "{n:?}");
        assert!(
            n.contains(&"app/link".to_string()),
            "a symlink travels as a link: {n:?}"
        );
        assert_eq!(ctx.dockerfile, "Dockerfile");

        let ctx = build(r, Some("app"), "docker/Dockerfile.prod").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ctx.dockerfile, ".funai.Dockerfile");

        assert!(matches!(
            build(r, Some("../"), "Dockerfile"),
            Err(ContextError::Escapes {
                field: "buildContext",
                ..
            })
        ));
        assert!(matches!(
            build(r, Some("escape"), "Dockerfile"),
            Err(ContextError::Escapes {
                field: "buildContext",
                ..
            })
        ));
        assert!(matches!(
            build(r, None, "escape/passwd"),
            Err(ContextError::Escapes {
                field: "dockerfilePath",
                ..
            })
        ));
        assert!(matches!(
            build(r, None, "/etc/passwd"),
            Err(ContextError::Escapes { .. })
        ));
        assert!(matches!(
            build(r, None, "Nope"),
            Err(ContextError::DockerfileMissing(_))
        ));
    }
}
