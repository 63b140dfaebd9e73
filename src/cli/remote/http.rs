//! A minimal HTTP/1.1 client over the daemon's admin unix socket: one request per connection
//! (`Connection: close`), JSON in and out, `Content-Length` or chunked answers (RFC 9112 §6,
//! §7.1). The daemon is the only server it talks to, so it needs no more than that.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longer than the daemon's own request timeout (30 s): its answer, even a 408, comes first.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read: a page of 500 audit events is well under it.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The daemon's admin socket.
#[derive(Debug, Clone)]
pub struct Socket(pub PathBuf);

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl Socket {
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Sends one request; `body` is sent as JSON.
    pub fn call(
        &self,
        method: &str,
        target: &str,
        body: Option<&serde_json::Value>,
    ) -> io::Result<Answer> {
        let mut stream = UnixStream::connect(&self.0)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: opentrusty-cli/{}\r\n\
             Accept: application/json\r\nConnection: close\r\n",
            env!("CARGO_PKG_VERSION")
        );
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())?;
        stream.flush()?;
        read_answer(BufReader::new(stream))
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad HTTP answer: {what}"),
    )
}

fn read_answer(mut r: impl BufRead) -> io::Result<Answer> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    // "HTTP/1.1 200 OK"
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("status line"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("end of headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    let body = if chunked {
        read_chunked(&mut r)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(bad("too large"));
        }
        let mut b = vec![0; n];
        r.read_exact(&mut b)?;
        b
    } else {
        let mut b = Vec::new();
        r.take(MAX_BODY as u64).read_to_end(&mut b)?;
        b
    };
    Ok(Answer { status, body })
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("chunk size"))?;
        if n == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + n > MAX_BODY {
            return Err(bad("too large"));
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..])?;
        line.clear();
        r.read_line(&mut line)?; // the CRLF after the chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_length_and_chunked_answers() {
        let a = read_answer(&b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"[..]).unwrap();
        assert_eq!((a.status, a.body.as_slice()), (201, &b"{}"[..]));
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let a = read_answer(&raw[..]).unwrap();
        assert_eq!(a.body, b"abcde");
        let a = read_answer(&b"HTTP/1.1 204 No Content\r\n\r\n"[..]).unwrap();
        assert_eq!((a.status, a.body.len()), (204, 0));
        assert!(read_answer(&b"garbage\r\n\r\n"[..]).is_err());
    }
}
