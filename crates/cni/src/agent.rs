//! The plugin's side of the agent protocol ([`crate::protocol`]): connect to the agent's unix
//! socket, write one JSON request line, read one JSON response line.
//!
//! Every step has a deadline: the runtime waits on this process, and a hung plugin holds up pod
//! creation (or, on DEL, pod deletion) with no error to show. A failure to reach the agent is code
//! 11 "try again later": the agent restarting or not yet started on a new node is transient, and
//! that code is how the spec tells the runtime so (see [`crate::commands`] for per-command use).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::CniError;
use crate::protocol::{AgentRequest, AgentResponse};

/// Talks to the node agent. The unix-socket client is [`UnixAgent`]; tests substitute fakes.
pub trait Agent {
    /// Sends one request and returns the agent's answer. `Err` means no usable answer came (the
    /// agent could not be reached, timed out, or answered garbage); an answer that is an error is
    /// `Ok(AgentResponse::Error(..))`.
    fn call(&self, req: AgentRequest) -> Result<AgentResponse, CniError>;
}

/// How long to wait for the socket to accept, and to write the request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the answer: ADD creates links and may wait on the controller for an
/// address, which can take a few seconds.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest answer accepted; a result is a few hundred bytes.
const MAX_RESPONSE: usize = 1 << 20;

/// The agent behind a unix socket.
#[derive(Debug, Clone)]
pub struct UnixAgent {
    path: PathBuf,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl UnixAgent {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        UnixAgent {
            path: path.into(),
            connect_timeout: CONNECT_TIMEOUT,
            response_timeout: RESPONSE_TIMEOUT,
        }
    }

    pub fn with_timeouts(mut self, connect: Duration, response: Duration) -> Self {
        self.connect_timeout = connect;
        self.response_timeout = response;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn unreachable(&self, what: impl std::fmt::Display) -> CniError {
        CniError::try_again_later(
            "weft agent unreachable",
            format!(
                "{what} (socket {}): is the weft agent running on this node?",
                self.path.display()
            ),
        )
    }

    /// `UnixStream::connect` has no timeout of its own (it blocks while the listener's backlog
    /// is full), so it runs on a helper thread that is abandoned if it overruns.
    fn connect(&self) -> Result<UnixStream, CniError> {
        let (tx, rx) = mpsc::channel();
        let path = self.path.clone();
        std::thread::Builder::new()
            .name("agent-connect".into())
            .spawn(move || {
                let _ = tx.send(UnixStream::connect(path));
            })
            .map_err(|e| self.unreachable(format!("cannot start a connect thread: {e}")))?;
        match rx.recv_timeout(self.connect_timeout) {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(self.unreachable(format!("cannot connect: {e}"))),
            Err(_) => Err(self.unreachable(format!("connect did not complete within {:?}", self.connect_timeout))),
        }
    }

    fn read_line(&self, stream: &mut UnixStream) -> Result<Vec<u8>, CniError> {
        let deadline = Instant::now() + self.response_timeout;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.timed_out());
            }
            stream
                .set_read_timeout(Some(remaining))
                .map_err(|e| self.unreachable(format!("cannot set a read timeout: {e}")))?;
            match stream.read(&mut chunk) {
                Ok(0) => {
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        return Err(self.unreachable("the agent closed the connection without answering"));
                    }
                    return Ok(buf);
                }
                Ok(n) => {
                    let start = buf.len();
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
                        buf.truncate(start + pos);
                        return Ok(buf);
                    }
                    if buf.len() > MAX_RESPONSE {
                        return Err(CniError::bad_agent_response(format!(
                            "the answer is longer than {MAX_RESPONSE} bytes"
                        )));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(self.timed_out());
                }
                Err(e) => return Err(self.unreachable(format!("reading the answer failed: {e}"))),
            }
        }
    }

    fn timed_out(&self) -> CniError {
        CniError::try_again_later(
            "weft agent did not answer in time",
            format!(
                "no answer within {:?} (socket {}): the agent may be overloaded or stuck",
                self.response_timeout,
                self.path.display()
            ),
        )
    }
}

impl Agent for UnixAgent {
    fn call(&self, req: AgentRequest) -> Result<AgentResponse, CniError> {
        let mut line = serde_json::to_vec(&req)
            .map_err(|e| CniError::bad_agent_response(format!("cannot encode the request: {e}")))?;
        line.push(b'\n');
        let mut stream = self.connect()?;
        stream
            .set_write_timeout(Some(self.connect_timeout))
            .and_then(|()| stream.write_all(&line))
            .and_then(|()| stream.flush())
            .map_err(|e| self.unreachable(format!("sending the request failed: {e}")))?;
        let answer = self.read_line(&mut stream)?;
        serde_json::from_slice(&answer).map_err(|e| {
            CniError::bad_agent_response(format!(
                "{e}: got {:?}",
                String::from_utf8_lossy(&answer[..answer.len().min(200)])
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AgentError, codes};
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;

    /// Serves one connection with `reply` (raw bytes) after reading the request line, and
    /// returns that line.
    fn serve_once(reply: &'static [u8]) -> (tempfile::TempDir, PathBuf, std::thread::JoinHandle<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut w = stream;
            w.write_all(reply).unwrap();
            line
        });
        (dir, path, handle)
    }

    #[test]
    fn round_trip() {
        let (_dir, path, handle) =
            serve_once(b"{\"outcome\":\"error\",\"code\":101,\"msg\":\"full\",\"details\":\"\"}\n");
        let resp = UnixAgent::new(&path)
            .call(AgentRequest::Status { network: "n".into() })
            .unwrap();
        assert_eq!(
            resp,
            AgentResponse::Error(AgentError {
                code: 101,
                msg: "full".into(),
                details: String::new(),
            })
        );
        let sent = handle.join().unwrap();
        assert!(sent.ends_with('\n'));
        let req: AgentRequest = serde_json::from_str(&sent).unwrap();
        assert_eq!(req, AgentRequest::Status { network: "n".into() });
    }

    #[test]
    fn answer_without_newline_before_close_is_accepted() {
        let (_dir, path, _h) = serve_once(b"{\"outcome\":\"ok\"}");
        let resp = UnixAgent::new(&path)
            .call(AgentRequest::Status { network: "n".into() })
            .unwrap();
        assert_eq!(resp, AgentResponse::Ok { result: None });
    }

    #[test]
    fn garbage_answer_is_a_bad_response() {
        let (_dir, path, _h) = serve_once(b"hello\n");
        let e = UnixAgent::new(&path)
            .call(AgentRequest::Status { network: "n".into() })
            .unwrap_err();
        assert_eq!(e.code, codes::BAD_AGENT_RESPONSE);
        assert!(e.details.contains("\"hello\""), "{e}");
    }

    #[test]
    fn closed_without_answer_is_try_again_later() {
        let (_dir, path, _h) = serve_once(b"");
        let e = UnixAgent::new(&path)
            .call(AgentRequest::Status { network: "n".into() })
            .unwrap_err();
        assert_eq!(e.code, codes::TRY_AGAIN_LATER);
        assert!(e.details.contains("without answering"), "{e}");
    }

    #[test]
    fn missing_socket_is_try_again_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nothing.sock");
        let e = UnixAgent::new(&path)
            .call(AgentRequest::Status { network: "n".into() })
            .unwrap_err();
        assert_eq!(e.code, codes::TRY_AGAIN_LATER);
        assert_eq!(e.msg, "weft agent unreachable");
        assert!(e.details.contains(&*path.to_string_lossy()), "{e}");
    }

    #[test]
    fn silent_agent_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let holder = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(800));
            drop(s);
        });
        let started = Instant::now();
        let e = UnixAgent::new(&path)
            .with_timeouts(Duration::from_secs(2), Duration::from_millis(200))
            .call(AgentRequest::Status { network: "n".into() })
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(700));
        assert_eq!(e.code, codes::TRY_AGAIN_LATER);
        assert_eq!(e.msg, "weft agent did not answer in time");
        holder.join().unwrap();
    }
}
