//! What deployd fills into a job before it is queued (DESIGN §3.1): a job for a known app
//! may carry only `appId`; the owner, the source, the port, the env and the route come from
//! the app's record, and a new app's repository, route and image repository from the
//! `[apps]` templates. A user id is never invented and an owner never changes silently.

use axum::http::StatusCode;
use protocol::job::JobPayload;
use protocol::template::{self, Names};

use crate::AppState;
use crate::error::ApiError;

/// Marks a job whose `basePath` an admin chose instead of the template; later jobs of the
/// app keep it.
pub const BASE_PATH_OVERRIDE: &str = "basePathOverride";

/// A 400 that names the payload field to add (`data.field`), so that a client can say
/// which of its flags gives it.
fn missing(field: &str, message: String) -> ApiError {
    let mut e = ApiError::field(field, message);
    e.data = Some(serde_json::json!({ "field": field }));
    e
}

/// Completes `p` from what deployd knows of the app and from the templates. `admin`: the
/// request carries a valid admin token, which may set a base path of its own.
pub async fn complete(
    state: &AppState,
    mut p: JobPayload,
    admin: bool,
) -> Result<JobPayload, ApiError> {
    // The old callers' spellings of a route: empty for none, a trailing slash.
    p.base_path = p
        .base_path
        .take()
        .and_then(|b| match b.trim_end_matches('/') {
            "" => None,
            t => Some(t.to_string()),
        });
    p.validate_given(state.settings.jobs.allow_local_repos)?;
    let app = p.app_id.clone();
    let known = state.store.known_app(&app).await?;
    let apps = &state.settings.apps;

    match (&p.user_id, &known.owner) {
        (None, Some(owner)) => p.user_id = Some(owner.clone()),
        (Some(given), Some(owner)) if given != owner => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "app {app} belongs to user {owner}, not {given}: its image, container and database are named after its owner; an admin moves it with `functl apps move --app {app} --user {given}`"
                ),
            ));
        }
        (None, None) => {
            let why = if known.last.is_some() {
                "has no recorded owner"
            } else {
                "is new to deployd"
            };
            return Err(missing(
                "payload.userId",
                format!("app {app} {why}: give the user it belongs to"),
            ));
        }
        _ => {}
    }
    let user = p.user_id.clone();
    let names = Names {
        app_id: &app,
        user_id: user.as_deref(),
        namespace: &apps.namespace,
    };

    let from_last = p.image.is_none() && p.repo_ssh_url.is_none();
    if let Some(last) = &known.last {
        if from_last {
            p.image = last.image.clone();
            p.repo_ssh_url = last.repo_ssh_url.clone();
        }
        if p.repo_ssh_url.is_some() && p.repo_ssh_url == last.repo_ssh_url {
            fill(&mut p.git_ref, &last.git_ref);
            fill(&mut p.dockerfile_path, &last.dockerfile_path);
            fill(&mut p.build_context, &last.build_context);
        }
        fill(&mut p.container_port, &last.container_port);
        fill(&mut p.env, &last.env);
        fill(&mut p.health_path, &last.health_path);
    } else if from_last {
        if apps.repo_url_template.is_empty() {
            return Err(missing(
                "payload.repoSshUrl",
                format!(
                    "app {app} is new to deployd and [apps] repo_url_template is not set: give its repository (or an image)"
                ),
            ));
        }
        let url = template::render(&apps.repo_url_template, names).map_err(|m| {
            missing(
                &format!("payload.{m}"),
                format!("[apps] repo_url_template needs {m}"),
            )
        })?;
        p.repo_ssh_url = Some(url);
    }

    let templated = template::base_path(&apps.base_path_template, names)
        .map_err(|m| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m))?;
    let kept = known
        .last
        .as_ref()
        .filter(|l| l.extra.get(BASE_PATH_OVERRIDE) == Some(&serde_json::Value::Bool(true)))
        .and_then(|l| l.base_path.clone());
    p.extra.remove(BASE_PATH_OVERRIDE);
    let asked = p.base_path.take();
    let path = match asked {
        None => kept.clone().unwrap_or_else(|| templated.clone()),
        Some(b) if Some(&b) == kept.as_ref() => b,
        Some(b) if b == templated && (kept.is_none() || admin) => b,
        Some(b) if admin => {
            protocol::validate::base_path(&b)
                .map_err(|m| ApiError::field("payload.basePath", m))?;
            check_override(state, &app, &b).await?;
            b
        }
        Some(b) => {
            return Err(ApiError::field(
                "payload.basePath",
                format!(
                    "{b} is not app {app}'s route {}: routes come from [apps] base_path_template; another path needs an admin (X-Admin-Token)",
                    kept.as_deref().unwrap_or(&templated)
                ),
            ));
        }
    };
    if path != templated {
        p.extra
            .insert(BASE_PATH_OVERRIDE.into(), serde_json::Value::Bool(true));
    }
    p.base_path = Some(path);

    if p.image.is_none() && p.image_repo.is_none() {
        let repo = template::render(&apps.image_repo_template, names).map_err(|m| {
            missing(
                &format!("payload.{m}"),
                format!("[apps] image_repo_template needs {m}"),
            )
        })?;
        p.image_repo = Some(repo);
    }
    Ok(p)
}

fn fill<T: Clone>(slot: &mut Option<T>, from: &Option<T>) {
    if slot.is_none() {
        slot.clone_from(from);
    }
}

/// An admin's own path may not overlap the templates' routes nor another app's.
async fn check_override(state: &AppState, app: &str, path: &str) -> Result<(), ApiError> {
    let tpl = &state.settings.apps.base_path_template;
    let fixed = tpl[..tpl.find('{').unwrap_or(tpl.len())]
        .rsplit_once('/')
        .map(|(head, _)| head)
        .unwrap_or("");
    let under_template = if fixed.is_empty() {
        true
    } else {
        template::paths_overlap(fixed, path)
    };
    if under_template {
        return Err(ApiError::conflict(format!(
            "basePath {path} lies where [apps] base_path_template {tpl:?} routes apps: choose a path outside it"
        )));
    }
    for (other, other_path) in state.store.base_path_overrides().await? {
        if other != app && template::paths_overlap(&other_path, path) {
            return Err(ApiError::conflict(format!(
                "basePath {path} overlaps {other_path}, app {other}'s route"
            )));
        }
    }
    Ok(())
}

/// The route the template makes for a payload that names none (a job queued before
/// deployd filled routes); `None` when the template needs a user the job lacks.
pub fn base_path_of(state: &AppState, p: &JobPayload) -> Option<String> {
    let apps = &state.settings.apps;
    template::base_path(
        &apps.base_path_template,
        Names {
            app_id: &p.app_id,
            user_id: p.user_id.as_deref(),
            namespace: &apps.namespace,
        },
    )
    .ok()
}

/// The repository of an app's images below the registry, as `registry prune --all` needs
/// it: that of the image the app runs, else the one the template makes.
pub fn image_repo(state: &AppState, run: &protocol::app::AppRun) -> Option<String> {
    if let Some(img) = &run.image
        && let Ok(r) = protocol::validate::ImageRef::parse(img)
    {
        return Some(r.repository);
    }
    let apps = &state.settings.apps;
    template::render(
        &apps.image_repo_template,
        Names {
            app_id: &run.app_id,
            user_id: run.user_id.as_deref(),
            namespace: &apps.namespace,
        },
    )
    .ok()
}
