//! The SSH probe and the known_hosts matcher, both libssh2's: `functl check` and doctor
//! probe the Git server with them, and the runner checks a clone's host key with the same
//! matcher, so the check and the clone cannot disagree on a file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::connect_error;

/// How the SSH probe logs in and checks the server.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// The user a login is tried as (the Git server's `git`).
    pub user: String,
    /// The host key must be in this file; `None`: the key is not checked (and said so).
    pub known_hosts: Option<PathBuf>,
    /// Log in with this private key (the deploy key); `None`: handshake only.
    pub key: Option<PathBuf>,
}

/// `[host]:port` as known_hosts spells a host on a port other than 22.
fn known_hosts_name(addr: SocketAddr) -> String {
    match addr.port() {
        22 => addr.ip().to_string(),
        p => format!("[{}]:{p}", addr.ip()),
    }
}

/// The SSH handshake, the host key against known_hosts, and with a key a login. Blocking.
pub fn ssh_probe(addr: SocketAddr, timeout: Duration, opts: &SshOptions) -> Result<String, String> {
    let tcp = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("TCP: {}", connect_error(&e)))?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let mut sess = ssh2::Session::new().map_err(|e| format!("SSH: {e}"))?;
    sess.set_tcp_stream(tcp);
    sess.set_timeout(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
    sess.handshake()
        .map_err(|e| format!("SSH handshake failed (is this an SSH server?): {e}"))?;
    let banner = sess.banner().unwrap_or("SSH").trim().to_string();
    let (key, kind) = sess
        .host_key()
        .map(|(k, t)| (k.to_vec(), t))
        .ok_or_else(|| "the server sent no host key".to_string())?;
    let name = known_hosts_name(addr);
    let mut notes = vec![banner];
    match &opts.known_hosts {
        None => notes.push("host key NOT checked (no known_hosts)".into()),
        Some(path) => {
            check_host_key(path, addr, &key)?;
            notes.push(format!("host key ok ({kind:?})"));
        }
    }
    if let Some(k) = &opts.key {
        login(&sess, &opts.user, k, &name)?;
        notes.push(format!("login as {} ok", opts.user));
    }
    let _ = sess.disconnect(None, "functl check", None);
    Ok(notes.join(", "))
}

/// What a known_hosts file says of the key a host presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyVerdict {
    Match,
    /// The host is listed with another key.
    Mismatch,
    /// The host is not listed.
    Unknown,
}

/// A known_hosts file read by libssh2's matcher, the one `functl check` and the runner's
/// clone share: plain and hashed (`ssh-keygen -H`) names, `[host]:port` for other ports.
pub struct KnownHostsFile {
    hosts: ssh2::KnownHosts,
    path: std::path::PathBuf,
}

impl KnownHostsFile {
    pub fn read(path: &Path) -> Result<KnownHostsFile, String> {
        let shown = path.display();
        std::fs::metadata(path).map_err(|e| format!("cannot read known_hosts {shown}: {e}"))?;
        // libssh2 keeps known hosts on a session; an unconnected one is enough.
        let sess = ssh2::Session::new().map_err(|e| format!("known_hosts: {e}"))?;
        let mut hosts = sess
            .known_hosts()
            .map_err(|e| format!("known_hosts: {e}"))?;
        hosts
            .read_file(path, ssh2::KnownHostFileKind::OpenSSH)
            .map_err(|e| format!("cannot read known_hosts {shown}: {e}"))?;
        Ok(KnownHostsFile {
            hosts,
            path: path.to_path_buf(),
        })
    }

    /// The verdict on `key` (the raw key blob the server sent) for `host` on `port`.
    pub fn check(&self, host: &str, port: u16, key: &[u8]) -> Result<HostKeyVerdict, String> {
        use ssh2::CheckResult;
        match self.hosts.check_port(host, port, key) {
            CheckResult::Match => Ok(HostKeyVerdict::Match),
            CheckResult::Mismatch => Ok(HostKeyVerdict::Mismatch),
            CheckResult::NotFound => Ok(HostKeyVerdict::Unknown),
            CheckResult::Failure => Err(format!(
                "cannot check the host key of {host}:{port} against {}",
                self.path.display()
            )),
        }
    }
}

fn check_host_key(path: &Path, addr: SocketAddr, key: &[u8]) -> Result<(), String> {
    let shown = path.display();
    let name = known_hosts_name(addr);
    match KnownHostsFile::read(path)?.check(&addr.ip().to_string(), addr.port(), key)? {
        HostKeyVerdict::Match => Ok(()),
        HostKeyVerdict::Mismatch => Err(format!(
            "host key mismatch: the key {name} presents is not the one in {shown}; if the server was re-keyed, update known_hosts"
        )),
        HostKeyVerdict::Unknown => Err(format!(
            "{name} is not in {shown}: add its host key (ssh-keyscan -p {} {})",
            addr.port(),
            addr.ip()
        )),
    }
}

fn login(sess: &ssh2::Session, user: &str, key: &Path, name: &str) -> Result<(), String> {
    let shown = key.display();
    std::fs::metadata(key).map_err(|e| format!("cannot read the deploy key {shown}: {e}"))?;
    sess.userauth_pubkey_file(user, None, key, None)
        .map_err(|e| format!("{name} refused the deploy key {shown} for user {user}: {e}"))?;
    if sess.authenticated() {
        Ok(())
    } else {
        Err(format!(
            "{name} did not accept the deploy key {shown} for user {user}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_names_bracket_other_ports() {
        let a: SocketAddr = "10.0.0.3:2222".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(known_hosts_name(a), "[10.0.0.3]:2222");
        let a: SocketAddr = "10.0.0.3:22".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(known_hosts_name(a), "10.0.0.3");
    }
}
