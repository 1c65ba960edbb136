//! One way to run ffmpeg: output on a pipe, stderr drained, a wall-clock
//! limit, and the child killed and reaped on every exit path.
//!
//! A damaged video once hung a search forever: ffmpeg filled its stderr
//! pipe with warnings while Vigil read only stdout, so each waited on the
//! other. Here stderr is read on its own thread into a bounded tail (the
//! last lines, with any URL credentials redacted), a watchdog kills the
//! child when its time is up or when asked to, and dropping the handle
//! kills and reaps it — an early return can never leave ffmpeg running.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines of ffmpeg's stderr kept for the error message.
const TAIL_LINES: usize = 8;
/// Longest stderr line kept (a hostile stream can print anything).
const MAX_LINE: usize = 400;

/// How a run of ffmpeg ended.
#[derive(Debug)]
pub struct Finished {
    /// None if it could not be reaped.
    pub status: Option<ExitStatus>,
    /// Killed by the wall-clock limit.
    pub timed_out: bool,
    /// The last lines it wrote to stderr, credentials redacted.
    pub stderr_tail: Vec<String>,
}

impl Finished {
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    /// The most telling line of ffmpeg's complaint (its last), if any.
    pub fn last_line(&self) -> Option<&str> {
        self.stderr_tail.last().map(String::as_str)
    }
}

struct Shared {
    child: Mutex<Option<Child>>,
    /// Set when the run is over (finished or killed): the watchdog leaves.
    over: Mutex<bool>,
    wake: Condvar,
    timed_out: AtomicBool,
}

impl Shared {
    fn kill(&self) {
        if let Some(c) = self
            .child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            let _ = c.kill();
        }
    }
}

/// A running ffmpeg. Read frames from [`Ffmpeg::stdout`]; call
/// [`Ffmpeg::finish`] for the outcome. Dropped, it kills and reaps ffmpeg.
pub struct Ffmpeg {
    shared: Arc<Shared>,
    stdout: Option<ChildStdout>,
    tail: Arc<Mutex<VecDeque<String>>>,
    stderr_thread: Option<JoinHandle<()>>,
    watchdog: Option<JoinHandle<()>>,
}

/// Kills the ffmpeg of an [`Ffmpeg`] from another thread (a camera's stop
/// or stall watchdog).
#[derive(Clone)]
pub struct Killer(Arc<Shared>);

impl Killer {
    pub fn kill(&self) {
        self.0.kill();
    }
}

impl Ffmpeg {
    /// Starts `ffmpeg ARGS` with stdin from `/dev/null` unless `prepare`
    /// says otherwise, stdout piped, stderr drained. `limit`: the longest
    /// it may run (None: until stopped, for live cameras).
    pub fn spawn(
        args: &[String],
        limit: Option<Duration>,
        prepare: impl FnOnce(&mut Command),
    ) -> std::io::Result<Self> {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        prepare(&mut cmd);
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let shared = Arc::new(Shared {
            child: Mutex::new(Some(child)),
            over: Mutex::new(false),
            wake: Condvar::new(),
            timed_out: AtomicBool::new(false),
        });
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let stderr_thread = stderr.and_then(|e| {
            let tail = tail.clone();
            std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || drain(e, &tail))
                .ok()
        });
        let watchdog = limit.and_then(|limit| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("ffmpeg-limit".into())
                .spawn(move || watch(&shared, limit))
                .ok()
        });
        Ok(Self {
            shared,
            stdout,
            tail,
            stderr_thread,
            watchdog,
        })
    }

    /// ffmpeg's output. Reads end (EOF) when ffmpeg exits or is killed.
    pub fn stdout(&mut self) -> Option<&mut ChildStdout> {
        self.stdout.as_mut()
    }

    /// ffmpeg's output, to be read on another thread (EOF when ffmpeg
    /// exits or is killed).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// ffmpeg's stdin, when `prepare` piped it (secrets that must not
    /// appear in argv are written here).
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.shared
            .child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .and_then(|c| c.stdin.take())
    }

    pub fn killer(&self) -> Killer {
        Killer(self.shared.clone())
    }

    /// Stops ffmpeg if it is still running, reaps it and says how it ended.
    pub fn finish(mut self) -> Finished {
        self.end()
    }

    /// Waits for ffmpeg to exit on its own (its output is done; the
    /// wall-clock limit still applies), then reaps it.
    pub fn wait(mut self) -> Finished {
        // Close our end of stdout first so ffmpeg cannot block writing.
        self.stdout.take();
        loop {
            // Polled, so the lock is never held while waiting and the
            // watchdog can still kill it at the limit.
            let running = self
                .shared
                .child
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
            if !running {
                return self.end();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn end(&mut self) -> Finished {
        self.stdout.take();
        let child = self
            .shared
            .child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let status = child.and_then(|mut c| {
            match c.try_wait() {
                Ok(Some(s)) => return Some(s),
                _ => {
                    let _ = c.kill();
                }
            }
            c.wait().ok()
        });
        *self.shared.over.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.watchdog.take() {
            let _ = t.join();
        }
        // The child is gone, so its stderr is at EOF and the drain ends.
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        Finished {
            status,
            timed_out: self.shared.timed_out.load(Ordering::SeqCst),
            stderr_tail: self
                .tail
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned()
                .collect(),
        }
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        if self.stderr_thread.is_some() || self.watchdog.is_some() {
            self.end();
        } else {
            // Already finished; make sure no child is left unreaped.
            let child = self
                .shared
                .child
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(mut c) = child {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn drain(stderr: std::process::ChildStderr, tail: &Mutex<VecDeque<String>>) {
    let mut r = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bounded: a line with no newline is cut, and the rest read as the
        // next "line", so memory never grows with what ffmpeg prints.
        match std::io::Read::take(&mut r, MAX_LINE as u64 * 4).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let mut text = redact_urls(text);
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(text);
    }
}

fn watch(shared: &Shared, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut over = shared.over.lock().unwrap_or_else(|p| p.into_inner());
    while !*over {
        let now = Instant::now();
        if now >= deadline {
            drop(over);
            shared.timed_out.store(true, Ordering::SeqCst);
            shared.kill();
            return;
        }
        over = shared
            .wake
            .wait_timeout(over, deadline - now)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0);
    }
}

/// `text` with the user-info part of every URL in it (`scheme://user:pass@`)
/// replaced by `***`: ffmpeg echoes the URL it was given in its errors.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_urls("rtsp://user:s3cr3t@10.0.0.9:554/x: Connection refused"),
            "rtsp://***@10.0.0.9:554/x: Connection refused"
        );
        assert_eq!(
            redact_urls("a 'http://u:p@h/x' and rtsp://h/y"),
            "a 'http://***@h/x' and rtsp://h/y"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
        assert!(!redact_urls("rtsp://a:b@c@d/e").contains('b'));
    }

    fn have_ffmpeg() -> bool {
        Command::new("ffmpeg").arg("-version").output().is_ok()
    }

    /// ffmpeg writing far more to stderr than a pipe holds, while nobody
    /// reads stdout until it is done: must not deadlock.
    #[test]
    fn a_chatty_ffmpeg_cannot_block_on_stderr() {
        if !have_ffmpeg() {
            eprintln!("skipped: no ffmpeg");
            return;
        }
        // -loglevel debug on a 2 s lavfi source prints hundreds of KB.
        let args: Vec<String> = [
            "-nostdin",
            "-loglevel",
            "debug",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=50:duration=2",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]
        .map(String::from)
        .to_vec();
        let mut f = Ffmpeg::spawn(&args, Some(Duration::from_secs(60)), |_| {}).unwrap();
        let mut out = Vec::new();
        f.stdout().unwrap().read_to_end(&mut out).unwrap();
        let done = f.wait();
        assert!(done.success(), "{done:?}");
        assert_eq!(out.len(), 64 * 64 * 3 * 100);
        assert!(done.stderr_tail.len() <= TAIL_LINES);
    }

    #[test]
    fn the_wall_clock_limit_kills_and_reaps() {
        if !have_ffmpeg() {
            eprintln!("skipped: no ffmpeg");
            return;
        }
        // An endless source: only the limit ends it.
        let args: Vec<String> = [
            "-nostdin",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=10",
            "-f",
            "rawvideo",
            "pipe:1",
        ]
        .map(String::from)
        .to_vec();
        let started = Instant::now();
        let mut f = Ffmpeg::spawn(&args, Some(Duration::from_millis(800)), |_| {}).unwrap();
        let pid = f.shared.child.lock().unwrap().as_ref().unwrap().id();
        // Reading an endless stream: only the watchdog's kill ends it.
        let mut out = Vec::new();
        f.stdout().unwrap().read_to_end(&mut out).unwrap();
        let done = f.finish();
        assert!(done.timed_out, "{done:?}");
        assert!(!done.success());
        assert!(started.elapsed() < Duration::from_secs(30));
        // Reaped: no zombie or live process with that pid is ours any more.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(!stat.contains("ffmpeg"), "ffmpeg {pid} still there: {stat}");
    }

    #[test]
    fn dropping_the_handle_kills_ffmpeg() {
        if !have_ffmpeg() {
            eprintln!("skipped: no ffmpeg");
            return;
        }
        let args: Vec<String> = [
            "-nostdin",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=10",
            "-f",
            "rawvideo",
            "pipe:1",
        ]
        .map(String::from)
        .to_vec();
        let f = Ffmpeg::spawn(&args, None, |_| {}).unwrap();
        let pid = f.shared.child.lock().unwrap().as_ref().unwrap().id();
        drop(f);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(!stat.contains("ffmpeg"), "ffmpeg {pid} still there: {stat}");
    }
}
