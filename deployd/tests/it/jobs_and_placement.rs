//! Job rules (one active job per app, per-user limit, history kept), job logs, and
//! disk-aware sticky placement.

use std::time::Duration;

use crate::common::*;
use protocol::client::ClientError;
use protocol::job::AppRef;
use protocol::job::JobStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_gets_one_active_job_and_a_user_three_active_apps() {
    let (_d, c) = with_node().await;
    let first = create(&c, user_payload("7", "a1")).await;
    let second = c
        .create_job(&protocol::job::CreateJobRequest {
            job_type: Default::default(),
            payload: user_payload("7", "a1"),
        })
        .await;
    match second {
        Err(ClientError::Api {
            status: 409,
            message,
        }) => {
            assert!(
                message.contains(&format!("active job {}", first.id)),
                "{message}"
            )
        }
        other => panic!("second active job accepted: {other:?}"),
    }
    // Still refused while RUNNING with an expired lease (before the sweeper).
    claim(&c, "r1", 0).await.expect("no job");
    assert!(
        c.create_job(&protocol::job::CreateJobRequest {
            job_type: Default::default(),
            payload: user_payload("7", "a1")
        })
        .await
        .is_err()
    );
    create(&c, user_payload("7", "a2")).await;
    create(&c, user_payload("7", "a3")).await;
    let fourth = c
        .create_job(&protocol::job::CreateJobRequest {
            job_type: Default::default(),
            payload: user_payload("7", "a4"),
        })
        .await;
    match fourth {
        Err(ClientError::Api {
            status: 409,
            message,
        }) => {
            assert!(
                message.contains("user 7 already has 3 active apps (a1, a2, a3)"),
                "{message}"
            )
        }
        other => panic!("fourth active app accepted: {other:?}"),
    }
    // Another user is not affected.
    create(&c, user_payload("8", "b1")).await;
    // A READY app still counts as active: a4 stays refused after a1 succeeds...
    report(&c, first.id, "r1", JobStatus::Succeeded).await;
    assert!(
        c.create_job(&protocol::job::CreateJobRequest {
            job_type: Default::default(),
            payload: user_payload("7", "a4")
        })
        .await
        .is_err()
    );
    // ...while a redeploy of a1 is fine.
    create(&c, user_payload("7", "a1")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_app_keeps_its_newest_ten_jobs() {
    let (d, c) = with_node().await;
    let mut ids = Vec::new();
    for i in 0..13 {
        let j = create(&c, payload("hist")).await;
        if i % 2 == 0 {
            c.cancel_job(j.id).await.unwrap();
        } else {
            // A job that ran has a log, which goes with it.
            claim(&c, "r1", 0).await.expect("no job");
            c.append_log(j.id, 0, b"Step 1/1\n".to_vec()).await.unwrap();
            report(&c, j.id, "r1", JobStatus::Succeeded).await;
        }
        ids.push(j.id);
    }
    let kept = c.jobs_by_app("hist", Some(200)).await.unwrap();
    let kept_ids: Vec<i64> = kept.iter().map(|j| j.id).collect();
    let newest: Vec<i64> = ids.iter().rev().take(10).copied().collect();
    assert_eq!(kept_ids, newest, "newest first, ten kept");
    assert_eq!(count_rows(&d, "job").await, 10);
    // Jobs 1, 3 .. 11 ran; of them 1 was trimmed (the trim runs at each create, so the
    // 13th create trimmed jobs 0, 1 and 2).
    assert_eq!(
        count_rows(&d, "log").await,
        5,
        "the trimmed job's log went with it"
    );
    let purge = c
        .purge_app(&AppRef {
            user_id: None,
            app_id: "hist".into(),
        })
        .await
        .unwrap();
    assert_eq!(purge.deleted_jobs, 10);
    assert!(
        c.jobs_by_app("hist", None)
            .await
            .map(|v| v.is_empty())
            .unwrap_or(false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_log_appends_by_offset_follows_and_is_capped() {
    let d = testkit::deployd::start_with(|s| s.jobs.log_cap_bytes = 1024).await;
    let c = d.client();
    node(&c, "rt-01", 80.0, 1 << 40).await;
    let job = create(&c, payload("logs")).await;
    claim(&c, "r1", 0).await.expect("no job");

    let ack = c
        .append_log(job.id, 0, b"Step 1/3 : FROM scratch\n".to_vec())
        .await
        .unwrap();
    assert_eq!(ack.length, 24);
    // A resend from a wrong offset gets 416 with the server's length.
    match c.append_log(job.id, 0, b"again\n".to_vec()).await {
        Err(ClientError::LogRange { server_length }) => assert_eq!(server_length, 24),
        other => panic!("expected 416, got {other:?}"),
    }
    // A follower waiting at the end receives the next bytes as soon as they are appended.
    let follower = {
        let c = c.clone();
        tokio::spawn(async move { c.read_log(job.id, 24, 20).await })
    };
    tokio::task::yield_now().await;
    c.append_log(
        job.id,
        24,
        "Step 2/3 : COPY busybox /\n".as_bytes().to_vec(),
    )
    .await
    .unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(10), follower)
        .await
        .unwrap_or_else(|_| panic!("the follower was not woken"))
        .unwrap()
        .unwrap();
    // Either it was woken by the append or it arrived after it: it holds the new bytes.
    assert_eq!(chunk.content, "Step 2/3 : COPY busybox /\n");
    assert_eq!(chunk.next_offset, 50);
    assert!(!chunk.complete);

    // Past the cap: accepted, counted, dropped, with one marker.
    let big = vec![b'x'; 2000];
    let ack = c.append_log(job.id, 50, big).await.unwrap();
    assert_eq!(ack.length, 2050);
    let ack = c
        .append_log(job.id, 2050, b"more\n".to_vec())
        .await
        .unwrap();
    assert_eq!(ack.length, 2055);
    report(&c, job.id, "r1", JobStatus::Failed).await;
    let all = c.read_log(job.id, 0, 0).await.unwrap();
    assert!(all.truncated);
    assert!(all.complete);
    assert!(all.content.starts_with("Step 1/3 : FROM scratch\nStep 2/3"));
    assert!(all.content.contains("log truncated here"));
    assert!(!all.content.contains("more"));
    assert!(all.content.len() < 1024 + 200);
    let j = c.get_job(job.id).await.unwrap();
    assert_eq!(
        j.error_message.as_deref(),
        Some("the runner reported a failure without a message")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_skips_low_disk_stale_disabled_and_draining_nodes_and_sticks() {
    let d = testkit::deployd::start().await;
    let c = d.client();
    // A stale node with the most disk: seen once, then silent past 60 s.
    node(&c, "rt-stale", 99.0, 1 << 50).await;
    d.state.clock.advance(Duration::from_secs(61));
    node(&c, "rt-full", 10.0, 1 << 45).await; // below 15 %
    node(&c, "rt-off", 90.0, 1 << 44).await;
    c.node_action("rt-off", "disable").await.unwrap();
    // No usable node: the job waits.
    let job = create(&c, payload("p1")).await;
    assert!(
        claim(&c, "r1", 0).await.is_none(),
        "claimed with no usable node"
    );
    node(&c, "rt-a", 60.0, 100_000_000_000).await;
    node(&c, "rt-b", 40.0, 200_000_000_000).await;
    let got = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(got.id, job.id);
    assert_eq!(
        got.runtime_node.map(|n| n.node_name).as_deref(),
        Some("rt-a"),
        "the largest diskFreePct wins over more free bytes (the estate's rule)"
    );
    report(&c, got.id, "r1", JobStatus::Succeeded).await;

    // A tie on pct: more free bytes wins; a tie on both: fewer containers.
    node(&c, "rt-d", 60.0, 150_000_000_000).await;
    create(&c, payload("p3")).await;
    let p3 = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(
        p3.runtime_node.map(|n| n.node_name).as_deref(),
        Some("rt-d"),
        "equal pct: more free bytes"
    );
    report(&c, p3.id, "r1", JobStatus::Succeeded).await;
    c.node_heartbeat(&node_hb("rt-c", 60.0, 200_000_000_000, 0))
        .await
        .unwrap();
    c.node_heartbeat(&node_hb("rt-d", 60.0, 200_000_000_000, 5))
        .await
        .unwrap();
    create(&c, payload("p2")).await;
    let p2 = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(
        p2.runtime_node.map(|n| n.node_name).as_deref(),
        Some("rt-c")
    );
    report(&c, p2.id, "r1", JobStatus::Succeeded).await;

    // Sticky: a bigger node appears, p1 stays on rt-a; even below the disk threshold.
    node(&c, "rt-big", 95.0, 1 << 48).await;
    node(&c, "rt-a", 12.0, 1_000_000).await;
    create(&c, payload("p1")).await;
    let again = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(
        again.runtime_node.map(|n| n.node_name).as_deref(),
        Some("rt-a")
    );
    report(&c, again.id, "r1", JobStatus::Succeeded).await;

    // Draining moves it on the next claim, to the best usable node.
    let drained = c.node_action("rt-a", "drain").await.unwrap();
    assert_eq!(drained.status.as_str(), "DRAINING");
    create(&c, payload("p1")).await;
    let moved = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(
        moved.runtime_node.map(|n| n.node_name).as_deref(),
        Some("rt-big")
    );
    let placements = c.placements(Some("rt-big")).await.unwrap();
    assert_eq!(
        placements
            .iter()
            .map(|p| p.app_id.as_str())
            .collect::<Vec<_>>(),
        vec!["p1"]
    );

    let nodes = c.list_nodes().await.unwrap();
    let status = |n: &str| {
        nodes
            .iter()
            .find(|x| x.node_name == n)
            .map(|x| x.status.as_str())
    };
    assert_eq!(status("rt-stale"), Some("STALE"));
    assert_eq!(status("rt-off"), Some("DISABLED"));
    assert_eq!(status("rt-a"), Some("DRAINING"));
    assert_eq!(status("rt-big"), Some("HEALTHY"));

    // Removing a node that holds placements needs force; reassign moves one by hand.
    assert_eq!(
        c.remove_node("rt-c", false)
            .await
            .err()
            .and_then(|e| e.status()),
        Some(409)
    );
    let p = c
        .reassign(&protocol::node::ReassignRequest {
            app_id: "p2".into(),
            node_name: "rt-big".into(),
        })
        .await
        .unwrap();
    assert_eq!(p.node_name, "rt-big");
    c.remove_node("rt-c", false).await.unwrap();
    let audit = c.audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "node.drain" && a.target == "rt-a")
    );
    assert!(
        audit
            .iter()
            .any(|a| a.action == "node.remove" && a.target == "rt-c")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_long_polls_and_finishes_in_flight_requests() {
    let (d, c) = with_node().await;
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move { claim(&c, "r1", 30).await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.runners().await.map(|r| r.is_empty()).unwrap_or(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "claimer never arrived"
        );
        tokio::task::yield_now().await;
    }
    let started = std::time::Instant::now();
    d.stop().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap_or_else(|_| panic!("the long-poll was not answered at shutdown"))
        .unwrap();
    assert!(got.is_none());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_reads_one_indexed_row_however_many_nodes() {
    const NODES: usize = 2000;
    let d = testkit::deployd::start().await;
    let c = d.client();
    // Disks of every size and fill, some below the threshold, some drained or disabled.
    let hbs: Vec<_> = (0..NODES)
        .map(|i| {
            let spread = ((i * 7919) % NODES) as i64;
            node_hb(
                &format!("rt-{i:04}"),
                5.0 + (spread % 90) as f64,
                (spread % 500 + 1) * 1_000_000_000,
                spread % 7,
            )
        })
        .collect();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, hbs, next) = (d.state.store.clone(), hbs.clone(), next.clone());
        let now = d.state.now();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(hb) = hbs.get(i) else { return };
                store.upsert_node(hb, None, now).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (i, flag) in [(0, "drain"), (1, "disable"), (2, "drain")] {
        c.node_action(&format!("rt-{i:04}"), flag).await.unwrap();
    }
    // The node the rules choose, computed here from what was sent.
    let expected = hbs
        .iter()
        .enumerate()
        .filter(|(i, hb)| *i > 2 && hb.disk_free_pct >= 15.0)
        .map(|(_, hb)| hb)
        .max_by(|a, b| {
            a.disk_free_pct
                .total_cmp(&b.disk_free_pct)
                .then(a.disk_free_bytes.cmp(&b.disk_free_bytes))
                .then(b.container_count.cmp(&a.container_count))
                .then(b.node_name.cmp(&a.node_name))
        })
        .map(|hb| hb.node_name.clone());
    create(&c, payload("many")).await;
    let got = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(got.runtime_node.map(|n| n.node_name), expected);

    // The engine reads the choice off the index: no sort of every node.
    let plan = d.explain_placement().await;
    eprintln!("placement plan on {:?}:\n{plan}", d.engine());
    assert!(plan.contains("idx_node_choice"), "{plan}");
    assert!(
        !plan.contains("TEMP B-TREE") && !plan.contains("Sort") && !plan.contains("filesort"),
        "{plan}"
    );
    // SQLite's claim reads the job, its placement and sticky node by key in the same
    // statement: it scans only its own one-row parts, no table.
    assert!(
        plan.lines()
            .filter(|l| l.starts_with("SCAN "))
            .all(|l| l.starts_with("SCAN j") || l.starts_with("SCAN b")),
        "{plan}"
    );
}

/// A beat that changes only a node's figures and time is answered at once from memory and
/// written with the others at the flush: the replica that took it shows it at once (and
/// places by it), another replica once it is written; a drain here is in the next answer;
/// a node removed through another replica while a beat was held comes up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beat_of_figures_only_is_written_at_the_flush_and_shown_at_once_where_it_came() {
    // No timed flush during the test: only the ones it asks for.
    let d = testkit::deployd::start_with(|s| s.nodes.heartbeat_flush_ms = 30_000).await;
    let other = testkit::deployd::replica_of(&d, |_| {}).await;
    let (c, c2) = (d.client(), other.client());
    let figures = |nodes: Vec<protocol::node::RuntimeNode>| {
        let n = nodes
            .iter()
            .find(|n| n.node_name == "rt-a")
            .expect("rt-a listed");
        (n.disk_free_pct, n.disk_free_bytes, n.container_count)
    };
    c.node_heartbeat(&node_hb("rt-a", 60.0, 100_000, 1))
        .await
        .unwrap();
    let answer = c
        .node_heartbeat(&node_hb("rt-a", 55.0, 90_000, 2))
        .await
        .unwrap();
    assert_eq!(
        (
            answer.disk_free_pct,
            answer.disk_free_bytes,
            answer.container_count
        ),
        (55.0, 90_000, 2)
    );
    // The other replica reads the database: the first beat's figures until the flush.
    assert_eq!(figures(c2.list_nodes().await.unwrap()), (60.0, 100_000, 1));
    assert_eq!(d.state.store.flush_beats().await.unwrap(), 1);
    assert_eq!(figures(c2.list_nodes().await.unwrap()), (55.0, 90_000, 2));
    assert_eq!(d.state.store.flush_beats().await.unwrap(), 0);

    // Held again, then read here: written first, so both replicas agree.
    c.node_heartbeat(&node_hb("rt-a", 50.0, 80_000, 3))
        .await
        .unwrap();
    assert_eq!(figures(c.list_nodes().await.unwrap()), (50.0, 80_000, 3));
    assert_eq!(figures(c2.list_nodes().await.unwrap()), (50.0, 80_000, 3));

    // A claim here places by the beat it holds: rt-b was better until its beat said its
    // disk is nearly full.
    node(&c, "rt-b", 90.0, 1 << 40).await;
    c.node_heartbeat(&node_hb("rt-b", 5.0, 1 << 30, 0))
        .await
        .unwrap();
    create(&c, payload("fig1")).await;
    let got = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(
        got.runtime_node.map(|n| n.node_name).as_deref(),
        Some("rt-a")
    );

    // Drained here: the next beat's answer says so.
    c.node_action("rt-a", "drain").await.unwrap();
    let drained = c
        .node_heartbeat(&node_hb("rt-a", 50.0, 70_000, 3))
        .await
        .unwrap();
    assert!(drained.draining);
    assert_eq!(drained.placements, 1);

    // Removed through the other replica while a beat is held here: the flush writes
    // nothing, and the node's next beat brings it up again.
    c.node_heartbeat(&node_hb("rt-a", 50.0, 60_000, 3))
        .await
        .unwrap();
    c2.remove_node("rt-a", true).await.unwrap();
    assert_eq!(d.state.store.flush_beats().await.unwrap(), 0);
    let back = c
        .node_heartbeat(&node_hb("rt-a", 45.0, 50_000, 4))
        .await
        .unwrap();
    assert!(!back.draining, "a new row: {back:?}");
    assert_eq!(figures(c2.list_nodes().await.unwrap()), (45.0, 50_000, 4));
    other.stop().await.unwrap();
    d.stop().await.unwrap();
}
