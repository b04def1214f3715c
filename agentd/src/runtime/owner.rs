//! A base path belongs to one app: a deploy is refused a path that another app of this node
//! holds (routed, or with a container, stopped or not), equal or overlapping by whole
//! segments, since the gateway would otherwise send one app's requests to the other.

use protocol::template::paths_overlap;

use super::{LABEL_APP, LABEL_BASE_PATH, Runtime, RuntimeError};

impl Runtime {
    /// Refuses `path` for `app` when another app of this node holds an overlapping route:
    /// the gateway's routes and the base path each app container was started with.
    pub(super) async fn check_path_free(&self, app: &str, path: &str) -> Result<(), RuntimeError> {
        let routed: Vec<(String, String)> = self
            .gateway
            .routes()
            .into_iter()
            .map(|(p, b)| (b.app_id.clone(), p))
            .collect();
        let labelled: Vec<(String, String)> = self
            .containers()
            .await?
            .into_iter()
            .filter_map(|c| {
                let holder = c.labels.get(LABEL_APP)?.clone();
                let held = c.labels.get(LABEL_BASE_PATH)?.clone();
                Some((holder, held))
            })
            .collect();
        let held = routed
            .iter()
            .chain(&labelled)
            .map(|(a, p)| (a.as_str(), p.as_str()));
        match refusal(app, path, held, false) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The refusal of `path` for `app` when one of `held` (app, base path) belongs to another
/// app and overlaps it; an exact holder is named before one that only overlaps.
pub(super) fn refusal<'a>(
    app: &str,
    path: &str,
    held: impl Iterator<Item = (&'a str, &'a str)>,
    deploying: bool,
) -> Option<RuntimeError> {
    let mut clashes: Vec<(&str, &str)> = held
        .filter(|(holder, p)| *holder != app && paths_overlap(path, p))
        .collect();
    clashes.sort_by_key(|(holder, p)| (*p != path, *p, *holder));
    clashes
        .first()
        .map(|(holder, held)| RuntimeError::PathTaken {
            path: path.to_string(),
            holder: holder.to_string(),
            held: held.to_string(),
            deploying,
        })
}

/// `basePath /runtime/6 is app 6's route on this node; ...`
pub(super) fn taken_message(path: &str, holder: &str, held: &str, deploying: bool) -> String {
    let whose = if deploying {
        format!("the path app {holder} is being deployed at on this node")
    } else {
        format!("app {holder}'s route on this node")
    };
    let what = if path == held {
        format!("basePath {path} is {whose}")
    } else if held.len() < path.len() {
        format!("basePath {path} lies under {held}, {whose}")
    } else {
        format!("basePath {path} contains {held}, {whose}")
    };
    format!(
        "{what}; a base path belongs to one app: deploy at another basePath, or delete app {holder} from this node first"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(app: &str, path: &str, held: &[(&str, &str)]) -> Option<String> {
        refusal(app, path, held.iter().copied(), false).map(|e| e.to_string())
    }

    #[test]
    fn another_apps_path_equal_nested_or_enclosing_is_refused_naming_it() {
        let held = [("6", "/runtime/6"), ("60", "/runtime/60")];
        let m = refused("5", "/runtime/6", &held).unwrap();
        assert!(
            m.starts_with("basePath /runtime/6 is app 6's route on this node;"),
            "{m}"
        );
        let m = refused("5", "/runtime/6/x", &held).unwrap();
        assert!(m.contains("lies under /runtime/6, app 6's route"), "{m}");
        let m = refused("5", "/runtime", &held).unwrap();
        assert!(m.contains("app 6") || m.contains("app 60"), "{m}");
        assert_eq!(refused("5", "/runtime/5", &held), None);
        assert_eq!(refused("5", "/runtime/600", &held), None);
    }

    #[test]
    fn an_app_keeps_or_moves_its_own_path() {
        let held = [("6", "/runtime/6")];
        assert_eq!(refused("6", "/runtime/6", &held), None);
        assert_eq!(refused("6", "/runtime/6/v2", &held), None);
        assert_eq!(refused("6", "/apps/6", &held), None);
    }

    #[test]
    fn the_exact_holder_is_named_before_an_overlapping_one() {
        let held = [("7", "/runtime/6/x"), ("6", "/runtime/6")];
        let m = refused("5", "/runtime/6", &held).unwrap();
        assert!(m.contains("is app 6's route"), "{m}");
    }
}
