//! Formatting of times, ages, sizes and long text for table cells.

use chrono::{SecondsFormat, Utc};
use protocol::Timestamp;

/// RFC 3339 to the second, in UTC: `2025-01-31T12:00:00Z`.
pub fn timestamp(ts: &Timestamp) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An optional timestamp, `-` when absent.
pub fn opt_timestamp(ts: Option<&Timestamp>) -> String {
    ts.map(timestamp).unwrap_or_else(|| "-".to_string())
}

/// How long ago `ts` was, coarsely: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
pub fn age(ts: &Timestamp) -> String {
    age_at(ts, &Utc::now())
}

pub fn age_at(ts: &Timestamp, now: &Timestamp) -> String {
    let secs = (*now - *ts).num_seconds();
    if secs < 0 {
        // Clocks of deployd and this host disagree; say so rather than print nonsense.
        return format!("in {}", duration(-secs));
    }
    format!("{} ago", duration(secs))
}

/// A duration in its largest whole unit: `45s`, `12m`, `3h`, `2d`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `12.3 GiB`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n.abs() < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Disk free as the nodes table shows it: `42.1% (12.3 GiB)`.
pub fn disk_free(pct: f64, bytes_free: i64) -> String {
    format!("{pct:.1}% ({})", bytes(bytes_free))
}

/// At most `max` characters on one line, `…` marking a cut.
pub fn truncate(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The first `n` characters of a commit hash.
pub fn short_commit(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// `-` for an absent value.
pub fn or_dash(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn ages_use_the_largest_whole_unit() {
        let now = at(0);
        assert_eq!(age_at(&at(-12), &now), "12s ago");
        assert_eq!(age_at(&at(0), &now), "0s ago");
        assert_eq!(age_at(&at(-59), &now), "59s ago");
        assert_eq!(age_at(&at(-60), &now), "1m ago");
        assert_eq!(age_at(&at(-3599), &now), "59m ago");
        assert_eq!(age_at(&at(-7200), &now), "2h ago");
        assert_eq!(age_at(&at(-86_400 * 3), &now), "3d ago");
    }

    #[test]
    fn a_future_timestamp_says_so() {
        assert_eq!(age_at(&at(5), &at(0)), "in 5s");
    }

    #[test]
    fn sizes_are_binary_with_one_decimal() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(13_207_024_435), "12.3 GiB");
        assert_eq!(bytes(5 * 1024_i64.pow(4)), "5.0 TiB");
    }

    #[test]
    fn disk_free_shows_percent_and_size() {
        assert_eq!(disk_free(42.123, 13_207_024_435), "42.1% (12.3 GiB)");
    }

    #[test]
    fn timestamps_are_rfc3339_to_the_second() {
        let ts = Utc
            .timestamp_opt(1_700_000_000, 123_456_789)
            .single()
            .unwrap_or_default();
        assert_eq!(timestamp(&ts), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn truncation_keeps_one_line_and_marks_the_cut() {
        assert_eq!(truncate("short", 60), "short");
        assert_eq!(truncate("a\nb   c", 60), "a b c");
        let long = "x".repeat(100);
        let t = truncate(&long, 60);
        assert_eq!(t.chars().count(), 60);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn commits_are_cut_to_twelve() {
        assert_eq!(
            short_commit("0123456789abcdef0123456789abcdef01234567"),
            "0123456789ab"
        );
        assert_eq!(short_commit("abc"), "abc");
    }
}
