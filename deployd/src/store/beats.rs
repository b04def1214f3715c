//! Node heartbeats held in memory between flushes.
//!
//! A runtime node beats every few seconds, and nearly every beat changes nothing but its
//! disk figures, its container count and the time. Such a beat, from a node this process
//! knows and that is fresh, is answered from memory and kept here; the newest figures of
//! every node that beat since are written together at the next flush (at most
//! `nodes.heartbeat_flush_ms` later, a few statements for all of them), so a beat takes no row
//! lock and no read of its own. A beat that changes what other parts read by name (the
//! node's addresses, its agent's version, its engine, the address it comes from), a node
//! unknown here or stale, and a node last read longer ago than half the stale window take
//! the full path, which writes and reads the row at once.
//!
//! What this process changes about a node (a drain, a removal, a placement) forgets it
//! here, so its next beat is read afresh. What another replica changes shows in the
//! answer at the node's next full beat; the database itself lags the node's beats by at
//! most one flush.

use std::collections::HashMap;

use protocol::node::NodeHeartbeat;

use super::rows::NodeRow;

/// Nodes per statement of a flush: a flush of `n` nodes takes the largest of these that
/// fit, so each engine prepares at most this many statements.
pub const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// What this process last knew of a node.
struct Known {
    /// The row as last read or written, with this process's held figures on it.
    row: NodeRow,
    remote_addr: Option<String>,
    /// When the row was last read from the database.
    read_at: i64,
}

/// A node's newest figures, not yet written.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub node_name: String,
    pub disk_free_pct: f64,
    pub disk_free_bytes: i64,
    pub container_count: i64,
    pub at: i64,
}

#[derive(Default)]
pub struct Beats {
    known: HashMap<String, Known>,
    held: HashMap<String, Held>,
}

/// Known nodes kept at most: past it the table starts again (each node is read afresh
/// at its next beat).
const MAX_KNOWN: usize = 100_000;

impl Beats {
    /// The node's answer when its beat can be held: known here, read within
    /// `max_age_ms`, fresh (its newest beat since `since`), and nothing but its figures
    /// and time changed. The figures are then kept for the next flush.
    pub fn hold(
        &mut self,
        hb: &NodeHeartbeat,
        engine: Option<&str>,
        remote_addr: Option<&str>,
        now: i64,
        since: i64,
        max_age_ms: i64,
    ) -> Option<NodeRow> {
        let k = self.known.get_mut(&hb.node_name)?;
        let same = k.row.agent_base_url == hb.agent_base_url
            && k.row.gateway_base_url == hb.gateway_base_url
            && k.row.agent_version == hb.agent_version
            && k.row.engine_info.as_deref() == engine
            && k.remote_addr.as_deref() == remote_addr;
        let recent = now >= k.read_at && now - k.read_at < max_age_ms;
        let fresh = k
            .row
            .last_heartbeat_at
            .is_some_and(|t| t >= since && t <= now);
        if !(same && recent && fresh) {
            return None;
        }
        k.row.disk_free_pct = hb.disk_free_pct;
        k.row.disk_free_bytes = hb.disk_free_bytes;
        k.row.container_count = hb.container_count;
        k.row.last_heartbeat_at = Some(now);
        self.held.insert(
            hb.node_name.clone(),
            Held {
                node_name: hb.node_name.clone(),
                disk_free_pct: hb.disk_free_pct,
                disk_free_bytes: hb.disk_free_bytes,
                container_count: hb.container_count,
                at: now,
            },
        );
        Some(k.row.clone())
    }

    /// The node as the full path just wrote and read it: later beats may be held. Its
    /// held figures are older than what was written, and go.
    pub fn known(&mut self, row: &NodeRow, remote_addr: Option<&str>, now: i64) {
        if self.known.len() >= MAX_KNOWN && !self.known.contains_key(&row.node_name) {
            self.known.clear();
        }
        self.held.remove(&row.node_name);
        self.known.insert(
            row.node_name.clone(),
            Known {
                row: row.clone(),
                remote_addr: remote_addr.map(str::to_string),
                read_at: now,
            },
        );
    }

    /// Something about the node changed here: its next beat is read afresh.
    pub fn forget(&mut self, node: &str) {
        self.known.remove(node);
    }

    /// Placements moved between nodes this process does not name: every node is read
    /// afresh.
    pub fn forget_all(&mut self) {
        self.known.clear();
    }

    /// The node is gone: nothing of it is kept or written.
    pub fn remove(&mut self, node: &str) {
        self.known.remove(node);
        self.held.remove(node);
    }

    /// Takes the held beats for a flush, in a fixed order.
    pub fn take(&mut self) -> Vec<Held> {
        let mut out: Vec<Held> = self.held.drain().map(|(_, h)| h).collect();
        out.sort_by(|a, b| a.node_name.cmp(&b.node_name));
        out
    }

    pub fn pending(&self) -> bool {
        !self.held.is_empty()
    }
}

/// Cuts `n` held nodes into statement sizes from [`CHUNKS`], largest first.
pub fn chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for size in CHUNKS {
        while n >= size {
            out.push(size);
            n -= size;
        }
    }
    out
}

/// The statement that writes `size` held nodes (in the neutral spelling: `?` for each
/// value, five per node: name, disk share, disk bytes, containers, time). A node whose row
/// holds a newer beat (written by the full path here or on another replica) is left
/// alone, as is a node removed since.
pub fn flush_sql(engine: &'static str, size: usize) -> &'static str {
    type Made = std::sync::OnceLock<std::sync::Mutex<HashMap<(&'static str, usize), &'static str>>>;
    static MADE: Made = std::sync::OnceLock::new();
    let mut made = MADE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    // Bounded: three engines, the sizes of CHUNKS.
    made.entry((engine, size)).or_insert_with(|| {
        let values = (0..size)
            .map(|i| match i {
                0 => "SELECT ? AS name, ? AS pct, ? AS bytes, ? AS containers, ? AS at",
                _ => "SELECT ?, ?, ?, ?, ?",
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sql = if engine == "mysql" {
            format!(
                "UPDATE fun_ai_deploy_runtime_node n JOIN ({values}) v ON n.node_name = v.name \
                 SET n.disk_free_pct = v.pct, n.disk_free_bytes = v.bytes, n.container_count = v.containers, \
                 n.last_heartbeat_at = v.at, n.updated_at = v.at WHERE n.last_heartbeat_at < v.at"
            )
        } else {
            format!(
                "UPDATE fun_ai_deploy_runtime_node SET disk_free_pct = v.pct, disk_free_bytes = v.bytes, \
                 container_count = v.containers, last_heartbeat_at = v.at, updated_at = v.at \
                 FROM ({values}) AS v WHERE fun_ai_deploy_runtime_node.node_name = v.name \
                 AND fun_ai_deploy_runtime_node.last_heartbeat_at < v.at"
            )
        };
        Box::leak(sql.into_boxed_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, at: i64) -> NodeRow {
        NodeRow {
            node_name: name.into(),
            agent_base_url: "http://a".into(),
            gateway_base_url: "http://g".into(),
            disk_free_pct: 50.0,
            disk_free_bytes: 100,
            container_count: 1,
            enabled: 1,
            draining: 0,
            last_heartbeat_at: Some(at),
            created_at: 1,
            agent_version: None,
            engine_info: None,
            placements: 2,
        }
    }

    fn beat(name: &str, bytes: i64) -> NodeHeartbeat {
        NodeHeartbeat {
            node_name: name.into(),
            agent_base_url: "http://a".into(),
            gateway_base_url: "http://g".into(),
            disk_free_pct: 40.0,
            disk_free_bytes: bytes,
            container_count: 3,
            checks: None,
            agent_version: None,
            apps: None,
            engine: None,
        }
    }

    #[test]
    fn a_beat_of_figures_only_is_held_and_answered_with_them() {
        let mut b = Beats::default();
        assert!(
            b.hold(&beat("n1", 7), None, None, 1000, 0, 30_000)
                .is_none()
        );
        b.known(&row("n1", 1000), None, 1000);
        let answer = b.hold(&beat("n1", 7), None, None, 2000, 0, 30_000).unwrap();
        assert_eq!(answer.disk_free_bytes, 7);
        assert_eq!(answer.container_count, 3);
        assert_eq!(answer.last_heartbeat_at, Some(2000));
        assert_eq!(answer.placements, 2);
        // A second beat before the flush replaces the first.
        b.hold(&beat("n1", 9), None, None, 3000, 0, 30_000).unwrap();
        let held = b.take();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].disk_free_bytes, held[0].at), (9, 3000));
        assert!(!b.pending());
    }

    #[test]
    fn a_beat_that_changes_more_than_figures_takes_the_full_path() {
        let mut b = Beats::default();
        b.known(&row("n1", 1000), Some("10.0.0.1"), 1000);
        let mut moved = beat("n1", 7);
        moved.agent_base_url = "http://b".into();
        assert!(
            b.hold(&moved, None, Some("10.0.0.1"), 2000, 0, 30_000)
                .is_none()
        );
        let mut upgraded = beat("n1", 7);
        upgraded.agent_version = Some("2.0.0".into());
        assert!(
            b.hold(&upgraded, None, Some("10.0.0.1"), 2000, 0, 30_000)
                .is_none()
        );
        assert!(
            b.hold(
                &beat("n1", 7),
                Some("{}"),
                Some("10.0.0.1"),
                2000,
                0,
                30_000
            )
            .is_none()
        );
        assert!(
            b.hold(&beat("n1", 7), None, Some("10.0.0.2"), 2000, 0, 30_000)
                .is_none()
        );
        // Read too long ago, stale, or the clock went back.
        assert!(
            b.hold(&beat("n1", 7), None, Some("10.0.0.1"), 31_000, 0, 30_000)
                .is_none()
        );
        assert!(
            b.hold(&beat("n1", 7), None, Some("10.0.0.1"), 2000, 1001, 30_000)
                .is_none()
        );
        assert!(
            b.hold(&beat("n1", 7), None, Some("10.0.0.1"), 999, 0, 30_000)
                .is_none()
        );
        assert!(!b.pending());
        assert!(
            b.hold(&beat("n1", 7), None, Some("10.0.0.1"), 2000, 0, 30_000)
                .is_some()
        );
    }

    #[test]
    fn a_node_changed_here_is_read_afresh_and_a_removed_one_is_not_written() {
        let mut b = Beats::default();
        b.known(&row("n1", 1000), None, 1000);
        b.known(&row("n2", 1000), None, 1000);
        b.hold(&beat("n1", 7), None, None, 2000, 0, 30_000).unwrap();
        b.hold(&beat("n2", 7), None, None, 2000, 0, 30_000).unwrap();
        b.forget("n1");
        assert!(
            b.hold(&beat("n1", 8), None, None, 2500, 0, 30_000)
                .is_none()
        );
        b.remove("n2");
        let held = b.take();
        assert_eq!(
            held.iter()
                .map(|h| h.node_name.as_str())
                .collect::<Vec<_>>(),
            ["n1"]
        );
        // The full path's write is newer than what was held.
        b.hold(&beat("n2", 7), None, None, 2000, 0, 30_000);
        b.known(&row("n1", 3000), None, 3000);
        b.hold(&beat("n1", 9), None, None, 3500, 0, 30_000).unwrap();
        b.known(&row("n1", 4000), None, 4000);
        assert!(b.take().is_empty());
        b.forget_all();
        assert!(
            b.hold(&beat("n1", 9), None, None, 4500, 0, 30_000)
                .is_none()
        );
    }

    #[test]
    fn a_flush_is_cut_into_few_statement_sizes() {
        assert_eq!(chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1), [1]);
        assert_eq!(chunk_sizes(75), [64, 4, 4, 1, 1, 1]);
        assert_eq!(chunk_sizes(130).iter().sum::<usize>(), 130);
    }
}
