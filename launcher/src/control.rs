//! The session's public control socket, served by the launcher (one thread per connection):
//! requests about the session (`spawn`, `restart-level`, `quit`) go to the event loop; the
//! others (`status`, `screenshot`, `input`) are forwarded to the compositor's private control
//! socket, and status replies get each level's cage added.

use std::io::{BufRead, BufReader, Read as _, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use cloison_ipc::{CageStatus, Reply, Request, Response};

/// Longest request line accepted.
const MAX_REQUEST: u64 = 1 << 20;

/// What a connection's thread may ask of the event loop.
pub struct Loop {
    /// Answer a launcher request.
    pub request: Box<dyn Fn(Request) -> Result<Response, String> + Send>,
    /// Each level's cage, in configuration order.
    pub cages: Box<dyn Fn() -> Option<Vec<Option<CageStatus>>> + Send>,
}

/// The compositor's side of a forwarded connection.
struct Forward {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Forward {
    fn connect(path: &Path) -> std::io::Result<Forward> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Forward {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn ask(&mut self, line: &str) -> std::io::Result<String> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\n")?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(std::io::Error::other(
                "the compositor closed the connection",
            ));
        }
        Ok(answer)
    }
}

/// Serves one control connection until it closes.
pub fn serve(stream: UnixStream, session: Loop, compositor: &Path) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut writer = writer;
    let _ = writer.set_write_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut forward: Option<Forward> = None;
    loop {
        let mut line = String::new();
        match (&mut reader).take(MAX_REQUEST).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with('\n') => {
                let _ = writer.write_all(b"{\"error\":\"request too long\"}\n");
                return;
            }
            Ok(_) => {}
        }
        let line = line.trim_end();
        let answer = match serde_json::from_str::<Request>(line) {
            Err(err) => to_line(&Response::Error(format!("bad request: {err}"))),
            Ok(request) if request.for_launcher() => {
                to_line(&(session.request)(request).unwrap_or_else(Response::Error))
            }
            Ok(request) => {
                if forward.is_none() {
                    forward = Forward::connect(compositor).ok();
                }
                let reply = forward.as_mut().map(|f| f.ask(line));
                match reply {
                    Some(Ok(answer)) if matches!(request, Request::Status) => {
                        with_cages(answer, &session)
                    }
                    Some(Ok(answer)) => answer.trim_end().to_string(),
                    Some(Err(err)) => {
                        forward = None;
                        to_line(&Response::Error(format!(
                            "the compositor does not answer: {err}"
                        )))
                    }
                    None => to_line(&Response::Error("the compositor is not reachable".into())),
                }
            }
        };
        if writer.write_all(answer.as_bytes()).is_err() || writer.write_all(b"\n").is_err() {
            return;
        }
    }
}

/// Adds each level's cage to a status reply.
fn with_cages(answer: String, session: &Loop) -> String {
    match serde_json::from_str::<Response>(&answer) {
        Ok(Response::Ok(Reply::Status(mut status))) => {
            if let Some(cages) = (session.cages)() {
                for (level, cage) in status.levels.iter_mut().zip(cages) {
                    level.cage = cage;
                }
            }
            to_line(&Response::Ok(Reply::Status(status)))
        }
        _ => answer.trim_end().to_string(),
    }
}

fn to_line(response: &Response) -> String {
    serde_json::to_string(response)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode the reply: {e}\"}}"))
}
