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
        let mut r = self.send(method, target, body, "application/json")?;
        let head = read_head(&mut r)?;
        read_body(r, &head)
    }

    /// GETs an NDJSON stream (`Accept: application/x-ndjson`) and hands each line to `each`
    /// as it arrives, in constant memory however long the stream. An error answer is
    /// returned whole, like [`Socket::call`]'s.
    pub fn lines(&self, target: &str, mut each: impl FnMut(&str)) -> io::Result<Answer> {
        let mut r = self.send("GET", target, None, "application/x-ndjson")?;
        let head = read_head(&mut r)?;
        if !(200..300).contains(&head.status) {
            return read_body(r, &head);
        }
        let body: Box<dyn Read> = match head.framing {
            Framing::Chunked => Box::new(Chunked::new(r)),
            Framing::Length(n) => Box::new(r.take(n as u64)),
            Framing::Close => Box::new(r),
        };
        for line in BufReader::new(body).lines() {
            let line = line?;
            if !line.trim().is_empty() {
                each(&line);
            }
        }
        Ok(Answer {
            status: head.status,
            body: Vec::new(),
        })
    }

    fn send(
        &self,
        method: &str,
        target: &str,
        body: Option<&serde_json::Value>,
        accept: &str,
    ) -> io::Result<BufReader<UnixStream>> {
        let mut stream = UnixStream::connect(&self.0)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: opentrusty-cli/{}\r\n\
             Accept: {accept}\r\nConnection: close\r\n",
            env!("CARGO_PKG_VERSION")
        );
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(&body);
        // The daemon may answer (e.g. 401) and close before it has read the whole request:
        // its answer is still there to read, and says more than the broken pipe.
        match stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.flush())
        {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) => {}
            Err(e) => return Err(e),
        }
        Ok(BufReader::new(stream))
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad HTTP answer: {what}"),
    )
}

/// How the body of an answer ends (RFC 9112 §6.3).
enum Framing {
    Chunked,
    Length(usize),
    Close,
}

struct Head {
    status: u16,
    framing: Framing,
}

fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    // "HTTP/1.1 200 OK"
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("status line"))?;
    let mut framing = Framing::Close;
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
            if name.eq_ignore_ascii_case("transfer-encoding") {
                if value.to_ascii_lowercase().contains("chunked") {
                    framing = Framing::Chunked;
                }
            } else if name.eq_ignore_ascii_case("content-length")
                && !matches!(framing, Framing::Chunked)
            {
                let n = value.parse::<usize>().map_err(|_| bad("content-length"))?;
                framing = Framing::Length(n);
            }
        }
    }
    Ok(Head { status, framing })
}

fn read_body(r: impl BufRead, head: &Head) -> io::Result<Answer> {
    let mut body = Vec::new();
    let limit = MAX_BODY as u64 + 1;
    match head.framing {
        Framing::Chunked => Chunked::new(r).take(limit).read_to_end(&mut body)?,
        Framing::Length(n) if n > MAX_BODY => return Err(bad("too large")),
        Framing::Length(n) => {
            body.resize(n, 0);
            let mut r = r;
            r.read_exact(&mut body)?;
            n
        }
        Framing::Close => r.take(limit).read_to_end(&mut body)?,
    };
    if body.len() > MAX_BODY {
        return Err(bad("too large"));
    }
    Ok(Answer {
        status: head.status,
        body,
    })
}

#[cfg(test)]
fn read_answer(mut r: impl BufRead) -> io::Result<Answer> {
    let head = read_head(&mut r)?;
    read_body(r, &head)
}

/// A chunked body as a plain reader (RFC 9112 §7.1); trailers are read and dropped.
struct Chunked<R> {
    inner: R,
    /// Bytes left in the current chunk; `None` before a chunk-size line.
    left: Option<usize>,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Chunked<R> {
        Chunked {
            inner,
            left: None,
            done: false,
        }
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut line = String::new();
        loop {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            match self.left {
                Some(0) => {
                    line.clear();
                    self.inner.read_line(&mut line)?; // the CRLF after a chunk
                    self.left = None;
                }
                Some(n) => {
                    let want = n.min(buf.len());
                    let got = self.inner.read(&mut buf[..want])?;
                    if got == 0 {
                        return Err(bad("truncated chunk"));
                    }
                    self.left = Some(n - got);
                    return Ok(got);
                }
                None => {
                    line.clear();
                    if self.inner.read_line(&mut line)? == 0 {
                        return Err(bad("truncated chunked body"));
                    }
                    let size = line.trim().split(';').next().unwrap_or("").trim();
                    let n = usize::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
                    if n == 0 {
                        // Trailers, then the empty line.
                        loop {
                            line.clear();
                            if self.inner.read_line(&mut line)? == 0 || line.trim().is_empty() {
                                break;
                            }
                        }
                        self.done = true;
                    } else {
                        self.left = Some(n);
                    }
                }
            }
        }
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
