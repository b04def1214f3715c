//! `funai-hello`: the small static web server the demo app of `functl up --demo` runs in its
//! container (examples/hello-app). It is built with functl, so the demo needs nothing but
//! Docker and `cargo build --release`: no base image, no static busybox from a package.
//!
//! `funai-hello [--port N] [--root DIR]` serves GET and HEAD of the files under DIR
//! (`index.html` for a directory), HTTP/1.1 with keep-alive, one thread per connection.
//! Standard library only, so its image holds this binary and the C library it links.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The longest request head read before the connection is answered 431 and closed.
const MAX_HEAD: usize = 16 * 1024;
/// An idle keep-alive connection is closed after this long.
const IDLE: Duration = Duration::from_secs(30);

fn main() {
    let mut port: u16 = 3000;
    let mut root = PathBuf::from("/www");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = |args: &mut dyn Iterator<Item = String>| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--port" | "-p" => {
                let v = value(&mut args);
                port = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--port {v:?} is not a port number")));
            }
            "--root" | "-h" => root = PathBuf::from(value(&mut args)),
            "--version" => {
                println!("funai-hello {}", env!("CARGO_PKG_VERSION"));
                return;
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if !root.is_dir() {
        usage(&format!("--root {} is not a directory", root.display()));
    }
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("funai-hello: cannot listen on port {port}: {e}");
        std::process::exit(1)
    });
    eprintln!("funai-hello: serving {} on port {port}", root.display());
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let root = root.clone();
        std::thread::spawn(move || serve(stream, &root));
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("funai-hello: {msg}\nusage: funai-hello [--port N] [--root DIR]");
    std::process::exit(2)
}

struct Request {
    method: String,
    path: String,
    keep_alive: bool,
}

/// Reads one request head; `Ok(None)` when the peer closed the connection between requests.
fn read_head(r: &mut BufReader<TcpStream>) -> Result<Option<Request>, u16> {
    let mut head = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .by_ref()
            .take((MAX_HEAD + 1 - head.len().min(MAX_HEAD)) as u64)
            .read_until(b'\n', &mut line)
            .map_err(|_| 408u16)?;
        if n == 0 {
            return if head.is_empty() { Ok(None) } else { Err(400) };
        }
        if head.len() + line.len() > MAX_HEAD {
            return Err(431);
        }
        if (line == b"\r\n" || line == b"\n") && !head.is_empty() {
            break;
        }
        if !(head.is_empty() && (line == b"\r\n" || line == b"\n")) {
            head.extend_from_slice(&line);
        }
    }
    let text = String::from_utf8(head).map_err(|_| 400u16)?;
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Err(400);
    };
    let mut keep_alive = version == "HTTP/1.1";
    for h in lines {
        let Some((name, value)) = h.split_once(':') else {
            return Err(400);
        };
        let (name, value) = (name.trim(), value.trim().to_ascii_lowercase());
        if name.eq_ignore_ascii_case("connection") {
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") && value != "0"
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            // A static server takes no bodies; answering and closing keeps the stream sane.
            return Err(413);
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    Ok(Some(Request {
        method: method.to_string(),
        path,
        keep_alive,
    }))
}

fn serve(stream: TcpStream, root: &Path) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let req = match read_head(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(code) => {
                let _ = respond(&mut out, code, "text/plain", b"", true, false);
                return;
            }
        };
        let head_only = req.method == "HEAD";
        let answered = if req.method != "GET" && !head_only {
            respond(&mut out, 405, "text/plain", b"", !req.keep_alive, false)
        } else {
            match lookup(root, &req.path) {
                Some((body, kind)) => {
                    respond(&mut out, 200, kind, &body, !req.keep_alive, head_only)
                }
                None => respond(
                    &mut out,
                    404,
                    "text/plain",
                    b"not found\n",
                    !req.keep_alive,
                    head_only,
                ),
            }
        };
        if answered.is_err() || !req.keep_alive {
            return;
        }
    }
}

/// The file a request path names under `root`, with its content type; `None` for anything
/// outside `root`, missing or unreadable.
fn lookup(root: &Path, path: &str) -> Option<(Vec<u8>, &'static str)> {
    let decoded = percent_decode(path)?;
    let mut file = root.to_path_buf();
    for c in Path::new(&decoded).components() {
        match c {
            Component::Normal(p) => file.push(p),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    let body = std::fs::read(&file).ok()?;
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    Some((body, kind))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.contains('\0')).then_some(text)
}

fn respond(
    out: &mut TcpStream,
    code: u16,
    kind: &str,
    body: &[u8],
    close: bool,
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let mut msg = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nServer: funai-hello\r\n",
        body.len()
    );
    if close {
        msg.push_str("Connection: close\r\n");
    }
    msg.push_str("\r\n");
    let mut bytes = msg.into_bytes();
    if !head_only {
        bytes.extend_from_slice(body);
    }
    out.write_all(&bytes)?;
    out.flush()
}
