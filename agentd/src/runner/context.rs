//! The build context as a tar: `buildContext` and `dockerfilePath` confined to the checkout
//! (symlinks resolved), `.dockerignore` honoured as Docker reads it, symlinks inside stored
//! as links. The tar is written as the engine reads it, never held whole in memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::dockerignore::DockerIgnore;
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

/// What goes into the context: the files and folders to send, in order, and the
/// Dockerfile's path inside the tar.
pub struct Context {
    ctx: PathBuf,
    entries: Vec<PathBuf>,
    outside_dockerfile: Option<PathBuf>,
    pub dockerfile: String,
    pub files: usize,
}

/// Name under which a Dockerfile from outside the context travels in the tar.
const OUTSIDE_DOCKERFILE: &str = ".funai.Dockerfile";

/// Bytes per piece handed to the engine.
const PIECE: usize = 64 * 1024;

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

/// Checks the paths and lists what the context holds; nothing is read yet.
pub fn plan(
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
    let dockerfile_rel = dockerfile
        .strip_prefix(&ctx)
        .ok()
        .map(|r| r.to_string_lossy().into_owned());
    let mut ignore = dockerignore(&ctx)?;
    // As the Docker CLI: the engine needs both files, whatever .dockerignore says.
    ignore.keep(".dockerignore");
    if let Some(rel) = &dockerfile_rel {
        ignore.keep(rel);
    }
    let mut entries = Vec::new();
    let mut files = 0;
    walk(&ctx, &ctx, &ignore, &mut entries, &mut files)?;
    let (dockerfile, outside_dockerfile) = match dockerfile_rel {
        Some(rel) => (rel, None),
        None => {
            files += 1;
            (OUTSIDE_DOCKERFILE.to_string(), Some(dockerfile))
        }
    };
    Ok(Context {
        ctx,
        entries,
        outside_dockerfile,
        dockerfile,
        files,
    })
}

/// Docker's walk: in name order; an excluded folder is entered only when an exception
/// names something inside it, and is itself sent only when not excluded.
fn walk(
    ctx: &Path,
    dir: &Path,
    ignore: &DockerIgnore,
    out: &mut Vec<PathBuf>,
    files: &mut usize,
) -> Result<(), ContextError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ContextError::Io(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path
            .strip_prefix(ctx)
            .map_err(|e| ContextError::Io(e.to_string()))?
            .to_path_buf();
        if rel.starts_with(".git") {
            continue;
        }
        let rel_text = rel.to_string_lossy();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| ContextError::Io(e.to_string()))?;
        let excluded = ignore.is_excluded(&rel_text);
        if meta.is_dir() {
            if !excluded {
                out.push(rel.clone());
            }
            if !excluded || ignore.may_keep_inside(&rel_text) {
                walk(ctx, &path, ignore, out, files)?;
            }
        } else if !excluded {
            out.push(rel);
            *files += 1;
        }
    }
    Ok(())
}

impl Context {
    /// Writes the tar to `w`. Blocking: run it on a blocking thread.
    pub fn write_tar(&self, w: impl Write) -> Result<(), ContextError> {
        let mut b = tar::Builder::new(w);
        b.follow_symlinks(false);
        for rel in &self.entries {
            b.append_path_with_name(self.ctx.join(rel), rel)
                .map_err(|e| ContextError::Io(format!("{}: {e}", rel.display())))?;
        }
        if let Some(df) = &self.outside_dockerfile {
            b.append_path_with_name(df, OUTSIDE_DOCKERFILE)
                .map_err(|e| ContextError::Io(e.to_string()))?;
        }
        b.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| ContextError::Io(e.to_string()))
    }

    /// Starts writing the tar on a blocking thread into a stream of pieces, a few pieces
    /// ahead of the reader: the context never sits whole in memory. A failure reaches
    /// the reader as an error in the stream and the returned task's answer; the task
    /// ends as soon as the reader is dropped.
    pub fn stream(
        self,
    ) -> (
        impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
        tokio::task::JoinHandle<Result<(), ContextError>>,
    ) {
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let task = tokio::task::spawn_blocking(move || {
            let w = PieceWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(PIECE),
            };
            let r = self.write_tar(w);
            if let Err(e) = &r {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
            r
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|piece| (piece, rx))
        });
        (stream, task)
    }

    /// The whole tar in memory (tests).
    #[cfg(test)]
    pub fn to_vec(&self) -> Result<Vec<u8>, ContextError> {
        let mut v = Vec::new();
        self.write_tar(&mut v)?;
        Ok(v)
    }
}

/// Hands the tar to the engine in pieces; a dropped reader ends the writing.
struct PieceWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl PieceWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx.blocking_send(Ok(piece)).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the engine stopped reading the build context",
            )
        })
    }
}

impl Write for PieceWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(PIECE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

fn dockerignore(ctx: &Path) -> Result<DockerIgnore, ContextError> {
    match std::fs::read_to_string(ctx.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text).map_err(|e| ContextError::Io(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
        Err(e) => Err(ContextError::Io(format!(".dockerignore: {e}"))),
    }
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
        let ctx = plan(r, None, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        let n = names(&ctx.to_vec().unwrap_or_else(|e| panic!("{e}")));
        assert!(n.contains(&"app/index.html".to_string()), "{n:?}");
        assert!(!n.iter().any(|x| x.starts_with("node_modules")), "{n:?}");
        assert!(!n.contains(&"app/secret.env".to_string()), "{n:?}");
        assert!(n.contains(&"keep.env".to_string()), "{n:?}");
        assert!(
            n.contains(&"app/link".to_string()),
            "a symlink travels as a link: {n:?}"
        );
        assert_eq!(ctx.dockerfile, "Dockerfile");

        let ctx = plan(r, Some("app"), "docker/Dockerfile.prod").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ctx.dockerfile, ".funai.Dockerfile");

        assert!(matches!(
            plan(r, Some("../"), "Dockerfile"),
            Err(ContextError::Escapes {
                field: "buildContext",
                ..
            })
        ));
        assert!(matches!(
            plan(r, Some("escape"), "Dockerfile"),
            Err(ContextError::Escapes {
                field: "buildContext",
                ..
            })
        ));
        assert!(matches!(
            plan(r, None, "escape/passwd"),
            Err(ContextError::Escapes {
                field: "dockerfilePath",
                ..
            })
        ));
        assert!(matches!(
            plan(r, None, "/etc/passwd"),
            Err(ContextError::Escapes { .. })
        ));
        assert!(matches!(
            plan(r, None, "Nope"),
            Err(ContextError::DockerfileMissing(_))
        ));
    }

    fn tree(r: &Path, files: &[(&str, &str)]) {
        for (p, c) in files {
            std::fs::create_dir_all(r.join(p).parent().unwrap_or(r)).ok();
            std::fs::write(r.join(p), c).ok();
        }
    }

    #[test]
    fn an_exception_under_an_excluded_folder_is_sent() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = d.path();
        tree(
            r,
            &[
                ("Dockerfile", "FROM scratch\n"),
                ("dist/app.bin", "app"),
                ("dist/app.bin.map", "map"),
                ("dist/tmp/x.o", "x"),
                ("vendor/lib/keep.txt", "k"),
                ("vendor/lib/drop.txt", "d"),
                ("docs/a.md", "a"),
                (
                    ".dockerignore",
                    "dist\n!dist/app.bin\n/vendor/\n!vendor/lib/keep.txt\n**/*.md\n",
                ),
            ],
        );
        let ctx = plan(r, None, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        let n = names(&ctx.to_vec().unwrap_or_else(|e| panic!("{e}")));
        assert!(n.contains(&"dist/app.bin".to_string()), "{n:?}");
        assert!(n.contains(&"vendor/lib/keep.txt".to_string()), "{n:?}");
        for gone in [
            "dist/app.bin.map",
            "dist/tmp/x.o",
            "vendor/lib/drop.txt",
            "docs/a.md",
        ] {
            assert!(!n.contains(&gone.to_string()), "{gone} sent: {n:?}");
        }
        // The excluded folders themselves are not sent, only what is re-included.
        assert!(!n.contains(&"dist".to_string()), "{n:?}");
        assert_eq!(
            ctx.files, 4,
            "Dockerfile, .dockerignore and the two exceptions"
        );
    }

    #[test]
    fn a_dockerfile_inside_an_excluded_folder_still_travels() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = d.path();
        tree(
            r,
            &[
                ("docker/Dockerfile", "FROM scratch\n"),
                ("docker/notes.txt", "n"),
                (".dockerignore", "docker\n.dockerignore\n"),
            ],
        );
        let ctx = plan(r, None, "docker/Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        let n = names(&ctx.to_vec().unwrap_or_else(|e| panic!("{e}")));
        assert!(n.contains(&"docker/Dockerfile".to_string()), "{n:?}");
        assert!(n.contains(&".dockerignore".to_string()), "{n:?}");
        assert!(!n.contains(&"docker/notes.txt".to_string()), "{n:?}");
        assert_eq!(ctx.dockerfile, "docker/Dockerfile");
    }

    #[tokio::test]
    async fn the_streamed_tar_is_the_whole_tar() {
        use futures_util::StreamExt;
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = d.path();
        let big = "x".repeat(3 * PIECE + 17);
        tree(r, &[("Dockerfile", "FROM scratch\n"), ("big", &big)]);
        let whole = plan(r, None, "Dockerfile")
            .and_then(|c| c.to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        let ctx = plan(r, None, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        let (stream, task) = ctx.stream();
        let pieces: Vec<_> = stream.collect().await;
        let mut streamed = Vec::new();
        for p in pieces {
            let p = p.unwrap_or_else(|e| panic!("{e}"));
            assert!(p.len() <= PIECE);
            streamed.extend_from_slice(&p);
        }
        task.await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(streamed, whole);
    }

    #[tokio::test]
    async fn a_dropped_reader_ends_the_writer() {
        use futures_util::StreamExt;
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = d.path();
        let big = "x".repeat(64 * PIECE);
        tree(r, &[("Dockerfile", "FROM scratch\n"), ("big", &big)]);
        let ctx = plan(r, None, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        let (stream, task) = ctx.stream();
        let mut stream = Box::pin(stream);
        assert!(stream.next().await.is_some());
        drop(stream);
        let r = task.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&r, Err(ContextError::Io(m)) if m.contains("stopped reading")),
            "{:?}",
            r.err()
        );
    }
}
