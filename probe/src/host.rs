//! This host's own addresses, read from the kernel's tables of the current network namespace
//! (`/proc/net/fib_trie` for IPv4, `/proc/net/if_inet6` for IPv6), to find its roles.

use std::net::{IpAddr, Ipv6Addr};

/// The addresses of this host's interfaces (loopback included), without duplicates.
pub fn local_addresses() -> std::io::Result<Vec<IpAddr>> {
    let v4 = std::fs::read_to_string("/proc/net/fib_trie")?;
    let mut out = parse_fib_trie(&v4);
    // A kernel without IPv6 has no if_inet6: that is no error, just no IPv6 addresses.
    if let Ok(v6) = std::fs::read_to_string("/proc/net/if_inet6") {
        for a in parse_if_inet6(&v6) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// The `/32 host LOCAL` leaves of the FIB trie: an address assigned to an interface.
pub fn parse_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<IpAddr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("|-- ") {
            last = rest.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL")
            && let Some(ip) = last
            && !out.contains(&ip)
        {
            out.push(ip);
        }
    }
    out
}

/// The first column of `/proc/net/if_inet6`: 32 hex digits per address.
pub fn parse_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|h| h.len() == 32)
        .filter_map(|h| u128::from_str_radix(h, 16).ok())
        .map(|n| IpAddr::V6(Ipv6Addr::from(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.199.7.0/24 2 0 2
        +-- 10.199.7.0/28 2 0 2
           |-- 10.199.7.0
              /24 link UNICAST
        |-- 10.199.7.101
           /32 host LOCAL
        |-- 10.199.7.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
        |-- 10.199.7.101
           /32 host LOCAL
";

    #[test]
    fn local_leaves_of_the_fib_are_this_hosts_addresses() {
        let got = parse_fib_trie(FIB);
        let want: Vec<IpAddr> = ["10.199.7.101", "127.0.0.1"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn if_inet6_lines_are_addresses() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80     eth0\nshort 01\n";
        let got = parse_if_inet6(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], IpAddr::V6(Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn this_host_has_loopback() {
        let addrs = local_addresses().unwrap_or_default();
        assert!(addrs.iter().any(|a| a.is_loopback()), "{addrs:?}");
    }
}
