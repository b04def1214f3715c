//! Prometheus text exposition shared by deployd and agentd: a fixed-bucket histogram and
//! helpers that write `# HELP`/`# TYPE` lines.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Seconds; the last bucket is +Inf.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 15],
    sum_micros: AtomicU64,
    total: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        let s = seconds.max(0.0);
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((s * 1e6) as u64, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        self.render_series(out, name, "");
    }

    /// The series of one labelled histogram (`labels` like `app="7"`, or empty), for a
    /// family whose `# HELP`/`# TYPE` lines are already written.
    pub fn render_series(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(
            out,
            "{name}_sum{} {}",
            braces(labels),
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "{name}_count{} {}",
            braces(labels),
            self.total.load(Ordering::Relaxed)
        );
    }
}

/// A counter with its help and type lines.
pub fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
    );
}

/// A gauge with its help and type lines.
pub fn gauge(out: &mut String, name: &str, help: &str, v: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
}

/// `build_info{version="0.1.0",commit="2657bbe"} 1`: which build is answering, for a
/// dashboard to tell the versions of an estate apart.
pub fn build_info(out: &mut String, version: &str, commit: &str) {
    let _ = writeln!(
        out,
        "# HELP build_info The version and Git commit of this build.\n# TYPE build_info gauge\nbuild_info{{version=\"{}\",commit=\"{}\"}} 1",
        label(version),
        label(commit)
    );
}

/// A label value as the exposition format escapes it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn build_info_names_version_and_commit() {
        let mut out = String::new();
        super::build_info(&mut out, "0.1.0", "2657bbe");
        assert!(
            out.ends_with("build_info{version=\"0.1.0\",commit=\"2657bbe\"} 1\n"),
            "{out}"
        );
        let mut odd = String::new();
        super::build_info(&mut odd, "a\"b", "c\\d");
        assert!(
            odd.contains("version=\"a\\\"b\",commit=\"c\\\\d\""),
            "{odd}"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        h.observe(1000.0);
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.25\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"300\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3"), "{out}");
        assert!(out.contains("x_count 3"), "{out}");
    }
}
