//! The route book: which container each app is routed to, kept on disk so that a restart
//! routes the same containers again.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The file's shape: `{"apps": {"<appId>": {"container": "...", "stopped": false}}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Book {
    apps: BTreeMap<String, BookEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BookEntry {
    pub container: String,
    pub stopped: bool,
}

pub(super) struct RouteBook {
    path: PathBuf,
    book: Book,
}

impl RouteBook {
    /// Reads the book at `path`; an absent or unreadable one starts empty (adoption rebuilds
    /// it from the containers).
    pub fn open(path: PathBuf) -> RouteBook {
        let book = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "route book unreadable; rebuilding from containers");
                Book::default()
            }),
            Err(_) => Book::default(),
        };
        RouteBook { path, book }
    }

    pub fn get(&self, app: &str) -> Option<&BookEntry> {
        self.book.apps.get(app)
    }

    pub fn set(&mut self, app: &str, container: &str, stopped: bool) {
        self.book.apps.insert(
            app.to_string(),
            BookEntry {
                container: container.to_string(),
                stopped,
            },
        );
    }

    /// The app whose entry names `container`.
    pub fn app_of_container(&self, container: &str) -> Option<String> {
        self.book
            .apps
            .iter()
            .find(|(_, e)| e.container == container)
            .map(|(a, _)| a.clone())
    }

    pub fn forget(&mut self, app: &str) {
        self.book.apps.remove(app);
    }

    /// Keeps only the apps whose container `exists`.
    pub fn retain(&mut self, exists: impl Fn(&str) -> bool) {
        self.book.apps.retain(|_, e| exists(&e.container));
    }

    /// Writes the book through a temporary file, so a crash leaves the old or the new one.
    pub fn save(&self) {
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&self.book).unwrap_or_default();
        let res = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = res {
            tracing::error!(path = %self.path.display(), error = %e, "cannot save the route book");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_survives_a_reopen_and_keeps_its_file_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentd-routes-rt-01.json");
        let mut book = RouteBook::open(path.clone());
        book.set("12", "rt-u-1-12-aaaa", false);
        book.set("13", "rt-u-1-13-bbbb", true);
        book.forget("13");
        book.save();
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"apps": {"12": {"container": "rt-u-1-12-aaaa", "stopped": false}}})
        );
        let again = RouteBook::open(path);
        assert_eq!(
            again.get("12"),
            Some(&BookEntry {
                container: "rt-u-1-12-aaaa".into(),
                stopped: false
            })
        );
    }
}
