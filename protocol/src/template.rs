//! The estate's naming conventions as settings: where an app is routed, where its image
//! lives and where its repository is, each made from a template with `{appId}`, `{userId}`
//! and `{namespace}`. deployd, the runner, the runtime and functl render them here, so a
//! path or a repository is made the same way everywhere.

/// The default route of an app (DESIGN §3.1); the estate's other convention is `/apps/{appId}`.
pub const DEFAULT_BASE_PATH: &str = "/runtime/{appId}";
/// The default image repository below the registry; the other convention is
/// `{namespace}/apps/app-{appId}`.
pub const DEFAULT_IMAGE_REPO: &str = "{namespace}/u{userId}-app{appId}";

const PLACEHOLDERS: [&str; 3] = ["{appId}", "{userId}", "{namespace}"];

/// What a template is filled with. `user_id` and `namespace` are absent when unknown; a
/// template that needs them then fails with the name of the missing value.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub app_id: &'a str,
    pub user_id: Option<&'a str>,
    pub namespace: &'a str,
}

/// Checks that a template names only known placeholders and has no stray brace; `needs`
/// lists placeholders it must contain (a base path without `{appId}` would give every app
/// the same route).
pub fn check(template: &str, needs: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let Some(close) = tail.find('}') else {
            return Err(format!("{template:?} has a '{{' without '}}'"));
        };
        let ph = &tail[..=close];
        if !PLACEHOLDERS.contains(&ph) {
            return Err(format!(
                "{template:?} names {ph}; the placeholders are {{appId}}, {{userId}} and {{namespace}}"
            ));
        }
        rest = &tail[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("{template:?} has a '}}' without '{{'"));
    }
    for n in needs {
        if !template.contains(n) {
            return Err(format!("{template:?} must contain {n}"));
        }
    }
    Ok(())
}

/// Fills a template; an error names the value it lacks (`userId`).
pub fn render(template: &str, names: Names<'_>) -> Result<String, String> {
    let mut out = template.replace("{appId}", names.app_id);
    out = out.replace("{namespace}", names.namespace);
    if out.contains("{userId}") {
        let Some(u) = names.user_id else {
            return Err("userId".into());
        };
        out = out.replace("{userId}", u);
    }
    Ok(out)
}

/// The base path an app is routed at: the template rendered and checked as a path.
pub fn base_path(template: &str, names: Names<'_>) -> Result<String, String> {
    let p = render(template, names)?;
    let p = p.trim_end_matches('/').to_string();
    crate::validate::base_path(&p)
        .map_err(|m| format!("base_path_template {template:?} makes {p:?}, which {m}"))?;
    Ok(p)
}

/// Whether two routes would share traffic: equal, or one a whole-segment prefix of the
/// other (`/runtime/6` catches `/runtime/6/x`, not `/runtime/60`).
pub fn paths_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('/'), b.trim_end_matches('/'));
    let nested = |short: &str, long: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    nested(a, b) || nested(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<'a>(user: Option<&'a str>) -> Names<'a> {
        Names {
            app_id: "20002",
            user_id: user,
            namespace: "funaistudio",
        }
    }

    #[test]
    fn both_estate_conventions_render() {
        assert_eq!(
            render(DEFAULT_IMAGE_REPO, names(Some("7"))).unwrap(),
            "funaistudio/u7-app20002"
        );
        assert_eq!(
            render("{namespace}/apps/app-{appId}", names(None)).unwrap(),
            "funaistudio/apps/app-20002"
        );
        assert_eq!(
            base_path("/apps/{appId}/", names(None)).unwrap(),
            "/apps/20002"
        );
        assert_eq!(
            render(DEFAULT_IMAGE_REPO, names(None)),
            Err("userId".into())
        );
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_named() {
        assert!(check("/runtime/{app}", &[]).unwrap_err().contains("{app}"));
        assert!(check("/runtime/{appId", &[]).is_err());
        assert!(check("/runtime/appId}", &[]).is_err());
        assert!(
            check("/runtime", &["{appId}"])
                .unwrap_err()
                .contains("{appId}")
        );
        assert!(check("ssh://git@h:2222/u{userId}-app{appId}.git", &["{appId}"]).is_ok());
    }

    #[test]
    fn overlap_is_by_whole_segments() {
        assert!(paths_overlap("/runtime/6", "/runtime/6"));
        assert!(paths_overlap("/runtime/6", "/runtime/6/x"));
        assert!(paths_overlap("/runtime", "/runtime/6"));
        assert!(!paths_overlap("/runtime/6", "/runtime/60"));
        assert!(!paths_overlap("/apps/6", "/runtime/6"));
    }
}
