//! Output capture: one thread per agent stream copies the pipe into a file up to a cap,
//! counts (and discards) the rest, and appends a marker line saying how much was dropped.
//! Memory stays at one fixed buffer per stream however much the agent prints.
//!
//! It also remembers the last non-empty stdout line, without keeping the stream. It never
//! touches the agent process itself: ending the stream is the supervisor's job.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

/// Read size: large enough that a fast writer costs few syscalls, small enough to not matter.
const BUFFER_BYTES: usize = 64 * 1024;

/// The final message is capped so a one-line megabyte of JSON does not land in result.json.
pub const FINAL_MESSAGE_MAX_BYTES: usize = 2048;

/// What a capture saw so far. Shared with the supervisor so it can report partial counts
/// when a stream never ends (a process outside the agent's group kept the pipe open).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// All bytes that arrived, kept or not.
    pub total_bytes: u64,
    pub truncated: bool,
    /// Only tracked for stdout.
    pub final_message: Option<String>,
    /// An I/O error on the log file (the stream is still drained so the agent never blocks).
    pub write_error: Option<String>,
}

/// A running capture thread.
pub struct Capture {
    shared: Arc<Mutex<StreamSummary>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    /// Starts copying `source` into `file`, keeping at most `cap` bytes.
    pub fn start(
        name: &str,
        source: impl Read + Send + 'static,
        file: File,
        cap: u64,
        track_last_line: bool,
    ) -> io::Result<Capture> {
        let shared = Arc::new(Mutex::new(StreamSummary::default()));
        let (sender, done) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("longrun-capture-{name}"))
            .spawn(move || {
                copy_capped(source, file, cap, track_last_line, &thread_shared);
                let _ = sender.send(());
            })?;
        Ok(Capture { shared, done })
    }

    /// Waits until `deadline` for the stream to end. Returns the summary and whether the
    /// stream really ended; on a timeout the thread is left behind (it dies with the
    /// process) and the summary holds what arrived so far.
    pub fn finish(self, deadline: Instant) -> (StreamSummary, bool) {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let complete = self.done.recv_timeout(timeout).is_ok();
        let summary = match self.shared.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        (summary, complete)
    }
}

fn copy_capped(
    mut source: impl Read,
    mut file: File,
    cap: u64,
    track_last_line: bool,
    shared: &Mutex<StreamSummary>,
) {
    let mut buffer = vec![0u8; BUFFER_BYTES];
    let mut kept: u64 = 0;
    let mut total: u64 = 0;
    let mut last_kept_byte = b'\n';
    let mut last_line = LastLine::default();
    let mut write_error: Option<String> = None;
    loop {
        let count = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            // A broken pipe read is the end of the stream for our purposes.
            Err(_) => break,
        };
        let chunk = &buffer[..count];
        total += count as u64;
        let room = cap.saturating_sub(kept);
        let keep = (count as u64).min(room) as usize;
        if keep > 0 && write_error.is_none() {
            match file.write_all(&chunk[..keep]) {
                Ok(()) => last_kept_byte = chunk[keep - 1],
                Err(error) => write_error = Some(error.to_string()),
            }
        }
        kept += keep as u64;
        if track_last_line {
            last_line.feed(chunk);
        }
        // The lock is per 64 KiB chunk, so it costs nothing next to the copy.
        if let Ok(mut summary) = shared.lock() {
            summary.total_bytes = total;
            summary.truncated = total > cap;
            summary.write_error.clone_from(&write_error);
        }
    }
    if total > cap && write_error.is_none() {
        let marker = truncation_marker(cap, total - cap, last_kept_byte != b'\n');
        if let Err(error) = file.write_all(marker.as_bytes()) {
            write_error = Some(error.to_string());
        }
    }
    if let Err(error) = file.sync_all()
        && write_error.is_none()
    {
        write_error = Some(error.to_string());
    }
    if let Ok(mut summary) = shared.lock() {
        summary.total_bytes = total;
        summary.truncated = total > cap;
        summary.final_message = if track_last_line {
            last_line.finish()
        } else {
            None
        };
        summary.write_error = write_error;
    }
}

/// The line appended after a truncated stream. It starts on a line of its own.
pub fn truncation_marker(cap: u64, discarded: u64, needs_newline: bool) -> String {
    format!(
        "{}[longrun: output truncated at {cap} bytes; {discarded} more bytes were discarded]\n",
        if needs_newline { "\n" } else { "" }
    )
}

/// Remembers the last non-blank line of a stream fed in chunks, keeping at most
/// [`FINAL_MESSAGE_MAX_BYTES`] of any line. Each chunk is scanned from its end, so the cost
/// is the length of the last line, not of the chunk.
#[derive(Debug, Default)]
pub struct LastLine {
    current: Vec<u8>,
    last: Option<Vec<u8>>,
}

impl LastLine {
    pub fn feed(&mut self, chunk: &[u8]) {
        let Some(last_newline) = chunk.iter().rposition(|&byte| byte == b'\n') else {
            self.extend_current(chunk);
            return;
        };
        // Lines completed by this chunk, newest first; the oldest one continues `current`.
        let completed = &chunk[..last_newline];
        let mut segments = completed.rsplit(|&byte| byte == b'\n').peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_none() {
                self.extend_current(segment);
                if !is_blank(&self.current) {
                    self.last = Some(std::mem::take(&mut self.current));
                }
                break;
            }
            if !is_blank(segment) {
                self.last = Some(segment[..segment.len().min(FINAL_MESSAGE_MAX_BYTES)].to_vec());
                break;
            }
        }
        self.current.clear();
        self.extend_current(&chunk[last_newline + 1..]);
    }

    /// The last non-blank line, including an unterminated one at the end.
    pub fn finish(mut self) -> Option<String> {
        if !is_blank(&self.current) {
            self.last = Some(std::mem::take(&mut self.current));
        }
        let line = self.last?;
        let mut text = String::from_utf8_lossy(&line).trim_end().to_string();
        // Lossy decoding can grow the text; cut again on a character boundary.
        if text.len() > FINAL_MESSAGE_MAX_BYTES {
            let mut end = FINAL_MESSAGE_MAX_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Some(text)
    }

    fn extend_current(&mut self, bytes: &[u8]) {
        let room = FINAL_MESSAGE_MAX_BYTES.saturating_sub(self.current.len());
        self.current
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_line_of(chunks: &[&[u8]]) -> Option<String> {
        let mut tracker = LastLine::default();
        for chunk in chunks {
            tracker.feed(chunk);
        }
        tracker.finish()
    }

    #[test]
    fn last_line_across_chunks() {
        assert_eq!(last_line_of(&[b"one\ntwo\n"]), Some("two".into()));
        assert_eq!(last_line_of(&[b"one\ntwo\n\n  \n"]), Some("two".into()));
        assert_eq!(last_line_of(&[b"one\ntw", b"o\n"]), Some("two".into()));
        assert_eq!(last_line_of(&[b"one\n", b"tail"]), Some("tail".into()));
        assert_eq!(last_line_of(&[b"one\r\n"]), Some("one".into()));
        assert_eq!(last_line_of(&[b"a", b"b", b"\n", b"\n"]), Some("ab".into()));
        assert_eq!(last_line_of(&[b"x\n", b"\n\n", b"   "]), Some("x".into()));
        assert_eq!(last_line_of(&[b"\n\n"]), None);
        assert_eq!(last_line_of(&[]), None);
    }

    #[test]
    fn last_line_is_capped() {
        let long = vec![b'y'; 10_000];
        let text = last_line_of(&[b"start\n", &long, b"\n"]).unwrap();
        assert_eq!(text.len(), FINAL_MESSAGE_MAX_BYTES);
        let text = last_line_of(&[&long[..3000], b"\nshort\n", &long]).unwrap();
        assert_eq!(text.len(), FINAL_MESSAGE_MAX_BYTES);
    }

    #[test]
    fn capture_keeps_cap_and_marks_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let input: Vec<u8> = b"line\n".repeat(1000);
        let file = File::create(&path).unwrap();
        let capture = Capture::start("test", io::Cursor::new(input), file, 1001, true).unwrap();
        let (summary, complete) =
            capture.finish(Instant::now() + std::time::Duration::from_secs(10));
        assert!(complete);
        assert_eq!(summary.total_bytes, 5000);
        assert!(summary.truncated);
        assert_eq!(summary.final_message.as_deref(), Some("line"));
        let written = std::fs::read_to_string(&path).unwrap();
        let expected_marker = truncation_marker(1001, 3999, true);
        assert_eq!(written.len(), 1001 + expected_marker.len());
        assert!(written.ends_with(&expected_marker), "{written}");
    }

    #[test]
    fn a_failing_log_is_reported_and_the_stream_still_drained() {
        // /dev/full fails every write with ENOSPC, like a full disk.
        let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let input = vec![b'z'; 300_000];
        let capture = Capture::start("test", io::Cursor::new(input), full, 1 << 20, false).unwrap();
        let (summary, complete) =
            capture.finish(Instant::now() + std::time::Duration::from_secs(10));
        assert!(complete);
        assert_eq!(summary.total_bytes, 300_000);
        assert!(summary.write_error.is_some());
    }

    #[test]
    fn capture_under_cap_is_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let file = File::create(&path).unwrap();
        let capture =
            Capture::start("test", io::Cursor::new(b"a\nb".to_vec()), file, 3, false).unwrap();
        let (summary, _) = capture.finish(Instant::now() + std::time::Duration::from_secs(10));
        assert!(!summary.truncated);
        assert_eq!(summary.final_message, None);
        assert_eq!(std::fs::read(&path).unwrap(), b"a\nb");
    }
}
