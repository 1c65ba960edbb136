//! A named thread with a stop flag, stopped and joined when dropped: the
//! shape of every long-running part of the live stage (supervisor,
//! footage recorder).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct Stoppable {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stoppable {
    /// Runs `body` on a thread named `name`; it should return soon after
    /// the flag it is given turns true.
    pub fn spawn(
        name: String,
        body: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || body(s))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Raises the flag and waits for the thread to finish.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Stoppable {
    fn drop(&mut self) {
        self.halt();
    }
}
