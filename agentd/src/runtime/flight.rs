//! One change of an app at a time: a deploy, stop or delete holds the app until it ends. A
//! deploy runs in a task of its own and publishes its result; the same deploy asked again
//! while it runs waits for that result instead of being refused. A stop or delete may wait
//! for the change in flight to end instead of being refused (`stop_waits_for_deploy`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use protocol::agent::{DeployAppAnswer, DeployAppRequest};
use tokio::sync::watch;

use super::{RuntimeError, owner};

/// How a deploy ended, as every caller of it is answered.
pub(super) type Outcome = Result<DeployAppAnswer, Arc<RuntimeError>>;

/// `None` until the deploy ends.
type ResultSender = watch::Sender<Option<Outcome>>;

/// What a deploy puts on the node, normalised: two requests that agree on it are the same
/// deploy. The job id is left out: it names who asked, not what runs, and deployd gives an
/// app one active job, so another id asking the same is that job's successor (a runner that
/// gave up waiting and was asked again).
///
/// No `Debug`: `env` may hold secrets.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct DeploySpec {
    user_id: String,
    image: String,
    port: u16,
    base_path: String,
    env: BTreeMap<String, String>,
    health_path: Option<String>,
}

impl DeploySpec {
    /// `port` and `base_path` as validation normalised them; no env and an empty one agree.
    pub(super) fn new(req: &DeployAppRequest, port: u16, base_path: &str) -> DeploySpec {
        DeploySpec {
            user_id: req.user_id.clone(),
            image: req.image.clone(),
            port,
            base_path: base_path.to_string(),
            env: req.env.clone().unwrap_or_default(),
            health_path: req.health_path.clone(),
        }
    }
}

/// An app being changed.
struct Flight {
    /// The base path a deploy claims (none for a stop or delete).
    base_path: Option<String>,
    /// A deploy's spec and where its result comes.
    deploy: Option<(DeploySpec, Arc<ResultSender>)>,
    /// Never sent on: dropped with the flight, it wakes whoever waits for the app.
    released: watch::Sender<()>,
}

impl Flight {
    fn new(base_path: Option<String>, deploy: Option<(DeploySpec, Arc<ResultSender>)>) -> Flight {
        Flight {
            base_path,
            deploy,
            released: watch::Sender::new(()),
        }
    }
}

/// The apps being changed on this node.
#[derive(Default)]
pub(super) struct Flights {
    apps: Arc<Mutex<HashMap<String, Flight>>>,
}

/// Releases an app (and the base path it claims) when its change ends, however it ends.
pub(super) struct FlightGuard {
    apps: Arc<Mutex<HashMap<String, Flight>>>,
    app: String,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.apps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.app);
    }
}

/// What a deploy request gets: the deploy to run, or the result of the same one running.
pub(super) enum DeployTurn {
    Run(DeployRun),
    Join(watch::Receiver<Option<Outcome>>),
}

/// A deploy this request starts: holds the app until the result is published.
pub(super) struct DeployRun {
    guard: FlightGuard,
    result: Arc<ResultSender>,
}

impl DeployRun {
    /// A receiver of the result, for the caller that starts the deploy.
    pub(super) fn subscribe(&self) -> watch::Receiver<Option<Outcome>> {
        self.result.subscribe()
    }

    /// Hands the result to every caller still waiting, then releases the app; answers how
    /// many callers were still waiting.
    pub(super) fn publish(self, outcome: Outcome) -> usize {
        let waiting = self.result.receiver_count();
        self.result.send_replace(Some(outcome));
        drop(self.guard);
        waiting
    }
}

impl Flights {
    /// Holds `app` for a stop or delete; refused while anything else changes it.
    pub(super) fn hold(&self, app: &str) -> Result<FlightGuard, RuntimeError> {
        self.try_hold(app)
            .map_err(|_| RuntimeError::InFlight(app.to_string()))
    }

    /// Holds `app` for a stop or delete once whatever changes it now has ended.
    pub(super) async fn hold_when_free(&self, app: &str) -> FlightGuard {
        loop {
            match self.try_hold(app) {
                Ok(guard) => return guard,
                // Answers when the flight is dropped; another may have started since: again.
                Err(mut released) => while released.changed().await.is_ok() {},
            }
        }
    }

    /// Holds `app`, or answers a receiver that ends when the flight holding it ends.
    fn try_hold(&self, app: &str) -> Result<FlightGuard, watch::Receiver<()>> {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = apps.get(app) {
            return Err(f.released.subscribe());
        }
        apps.insert(app.to_string(), Flight::new(None, None));
        Ok(self.guard(app))
    }

    /// A deploy of `app` as `spec`: joins the same deploy in flight; refused while another
    /// change of the app runs, or when another deploy in flight claims an overlapping base
    /// path. All under one lock: of two deploys racing for an app or a path, one gets it.
    pub(super) fn deploy(&self, app: &str, spec: DeploySpec) -> Result<DeployTurn, RuntimeError> {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = apps.get(app) {
            return match &f.deploy {
                // Subscribed under the lock: a caller never holds the sender, so a deploy
                // task that dies without a result closes the channel for everyone.
                Some((running, result)) if *running == spec => {
                    Ok(DeployTurn::Join(result.subscribe()))
                }
                _ => Err(RuntimeError::InFlight(app.to_string())),
            };
        }
        let claimed = apps
            .iter()
            .filter_map(|(a, f)| Some((a.as_str(), f.base_path.as_deref()?)));
        if let Some(e) = owner::refusal(app, &spec.base_path, claimed, true) {
            return Err(e);
        }
        let result = Arc::new(watch::Sender::new(None));
        apps.insert(
            app.to_string(),
            Flight::new(Some(spec.base_path.clone()), Some((spec, result.clone()))),
        );
        Ok(DeployTurn::Run(DeployRun {
            guard: self.guard(app),
            result,
        }))
    }

    fn guard(&self, app: &str) -> FlightGuard {
        FlightGuard {
            apps: self.apps.clone(),
            app: app.to_string(),
        }
    }
}

/// Waits for a deploy's result. A deploy task that ended without one (it panicked) is an
/// internal failure, not a wait forever.
pub(super) async fn outcome(mut rx: watch::Receiver<Option<Outcome>>, app: &str) -> Outcome {
    match rx.wait_for(Option::is_some).await {
        Ok(v) => v.clone().unwrap_or_else(|| unreachable_outcome(app)),
        Err(_) => unreachable_outcome(app),
    }
}

fn unreachable_outcome(app: &str) -> Outcome {
    Err(Arc::new(RuntimeError::Internal(format!(
        "the deploy of app {app} ended without a result; see agentd's log"
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(image: &str) -> DeployAppRequest {
        DeployAppRequest {
            user_id: "1".into(),
            app_id: "5".into(),
            image: image.into(),
            container_port: 3000,
            base_path: None,
            env: None,
            health_path: None,
            job_id: Some(1),
        }
    }

    fn answer() -> DeployAppAnswer {
        DeployAppAnswer {
            app_id: "5".into(),
            container_name: "rt-u-1-5-0000abcd".into(),
            status: "DEPLOYED".into(),
            preview_url: "http://gw/runtime/5/".into(),
        }
    }

    #[tokio::test]
    async fn the_same_deploy_joins_and_gets_the_same_answer() {
        let f = Flights::default();
        let spec = DeploySpec::new(&req("r/a:1"), 3000, "/runtime/5");
        let Ok(DeployTurn::Run(run)) = f.deploy("5", spec) else {
            panic!("the first deploy runs");
        };
        let first = run.subscribe();
        let mut again = req("r/a:1");
        again.env = Some(BTreeMap::new());
        again.job_id = Some(2);
        let Ok(DeployTurn::Join(second)) =
            f.deploy("5", DeploySpec::new(&again, 3000, "/runtime/5"))
        else {
            panic!("the same deploy joins");
        };
        assert_eq!(run.publish(Ok(answer())), 2);
        assert_eq!(outcome(first, "5").await.ok(), Some(answer()));
        assert_eq!(outcome(second, "5").await.ok(), Some(answer()));
        // Released: the next deploy runs.
        assert!(matches!(
            f.deploy("5", DeploySpec::new(&req("r/a:1"), 3000, "/runtime/5")),
            Ok(DeployTurn::Run(_))
        ));
    }

    #[test]
    fn another_deploy_stop_or_delete_of_the_app_is_refused_while_one_runs() {
        let f = Flights::default();
        let _run = f.deploy("5", DeploySpec::new(&req("r/a:1"), 3000, "/runtime/5"));
        for other in [
            DeploySpec::new(&req("r/a:2"), 3000, "/runtime/5"),
            DeploySpec::new(&req("r/a:1"), 8080, "/runtime/5"),
            DeploySpec::new(&req("r/a:1"), 3000, "/apps/5"),
        ] {
            assert!(matches!(
                f.deploy("5", other),
                Err(RuntimeError::InFlight(_))
            ));
        }
        assert!(matches!(f.hold("5"), Err(RuntimeError::InFlight(_))));
        let _stop = f.hold("6").ok();
        assert!(matches!(
            f.deploy("6", DeploySpec::new(&req("r/a:1"), 3000, "/runtime/6")),
            Err(RuntimeError::InFlight(_))
        ));
    }

    #[tokio::test]
    async fn a_stop_that_waits_gets_the_app_once_the_deploy_in_flight_ends() {
        let f = Arc::new(Flights::default());
        let Ok(DeployTurn::Run(run)) =
            f.deploy("5", DeploySpec::new(&req("r/a:1"), 3000, "/runtime/5"))
        else {
            panic!("the deploy runs");
        };
        let waiting = tokio::spawn({
            let f = f.clone();
            async move {
                let _stop = f.hold_when_free("5").await;
                // Held by the stop now: a deploy is refused.
                f.deploy("5", DeploySpec::new(&req("r/a:1"), 3000, "/runtime/5"))
                    .is_err()
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the stop waits for the deploy");
        run.publish(Ok(answer()));
        assert!(waiting.await.unwrap());
        assert!(f.hold("5").is_ok(), "the stop released the app");
    }

    #[test]
    fn a_path_another_deploy_in_flight_claims_is_refused() {
        let f = Flights::default();
        let _run = f.deploy("5", DeploySpec::new(&req("r/a:1"), 3000, "/runtime/5"));
        let mut other = req("r/b:1");
        other.app_id = "7".into();
        assert!(matches!(
            f.deploy("7", DeploySpec::new(&other, 3000, "/runtime/5/x")),
            Err(RuntimeError::PathTaken {
                deploying: true,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_deploy_that_ends_without_a_result_fails_its_callers() {
        let f = Flights::default();
        let Ok(DeployTurn::Run(run)) =
            f.deploy("5", DeploySpec::new(&req("r/a:1"), 3000, "/runtime/5"))
        else {
            panic!("the first deploy runs");
        };
        let rx = run.subscribe();
        drop(run);
        let e = outcome(rx, "5").await.err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("ended without a result")),
            "{e:?}"
        );
    }
}
