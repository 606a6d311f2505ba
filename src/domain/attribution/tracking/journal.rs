//! The write-ahead journal of the click queue: a click handed to the writer's channel is first
//! appended here, so a process killed without a graceful shutdown (`kill -9`, out of memory)
//! loses none of the clicks it answered. The crash test (`tests/crash/`) found that without
//! it, the clicks waiting in the channel at the moment of a SIGKILL were gone.
//!
//! Files: `<spill root>/j<n>/<seq>.spill`, in the spill's record format ([`spill::encode`]),
//! in a slot of their own (`j0`, `j1`, ... beside the spill's `0`, `1`, ...) whose `flock`
//! the process holds for its lifetime. At start the writer drains every slot no running
//! process holds, journal slots included, so what a killed process journaled is stored by the
//! next one; inserts skip ids already stored, so replaying clicks that did reach the database
//! stores each once.
//!
//! A segment is deleted once every click appended to it is in the database (or in the spill,
//! which is durable on its own): the writer reports each stored click's segment
//! ([`Journal::stored`]) and closes a fully stored active segment at the end of each round
//! ([`Journal::settle`]), so an idle server keeps no journal files. Records reach the kernel
//! before the redirect answers (one `write` call), which survives a process crash; the journal
//! is not fsynced, so a power loss may still lose the last round, as before.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::spill;

/// A segment is closed past this size, so a backlog is replayed a bounded piece at a time.
const SEGMENT_MAX: u64 = 4 * 1024 * 1024;
/// Journal slots tried per database (processes on one data dir).
const SLOTS: u32 = 64;

/// The journal directory of slot `n` under a database's spill root.
pub fn slot_dir(root: &Path, n: u32) -> PathBuf {
    root.join(format!("j{n}"))
}

/// This process's click journal.
#[derive(Debug)]
pub struct Journal {
    root: PathBuf,
    state: Mutex<Option<State>>,
}

#[derive(Debug)]
struct State {
    dir: PathBuf,
    /// Held for the process's lifetime: no other process drains a live journal.
    _lock: File,
    /// The segment being appended to: its sequence number, file and size.
    active: Option<(u64, File, u64)>,
    next_seq: u64,
    /// Clicks appended to and stored from each segment not yet deleted.
    segments: BTreeMap<u64, Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    appended: u64,
    stored: u64,
}

impl Journal {
    /// A journal under the database's spill `root`; nothing is created until the first
    /// append.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            state: Mutex::new(None),
        }
    }

    /// Appends one record (from [`spill::encode`]); returns the segment it went to, which
    /// the writer reports to [`Journal::stored`] once the click is stored.
    pub fn append(&self, record: &[u8]) -> io::Result<u64> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        if guard.is_none() {
            *guard = Some(self.take_slot()?);
        }
        let Some(state) = guard.as_mut() else {
            return Err(io::Error::other("no journal slot"));
        };
        if state
            .active
            .as_ref()
            .is_some_and(|(_, _, size)| *size >= SEGMENT_MAX)
        {
            state.active = None;
        }
        let (seq, file, size) = match state.active.as_mut() {
            Some(active) => active,
            None => {
                let seq = state.next_seq;
                let file = OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(segment_path(&state.dir, seq))?;
                state.next_seq += 1;
                state.active.insert((seq, file, 0))
            }
        };
        file.write_all(record)?;
        *size += record.len() as u64;
        let seq = *seq;
        state.segments.entry(seq).or_default().appended += 1;
        Ok(seq)
    }

    /// Records that the clicks journaled in these segments (one entry per click) are
    /// stored, and deletes closed segments whose clicks all are.
    pub fn stored(&self, seqs: &[u64]) {
        if seqs.is_empty() {
            return;
        }
        let Ok(mut guard) = self.state.lock() else {
            return;
        };
        let Some(state) = guard.as_mut() else {
            return;
        };
        for seq in seqs {
            if let Some(c) = state.segments.get_mut(seq) {
                c.stored += 1;
            }
        }
        let active = state.active.as_ref().map(|(seq, _, _)| *seq);
        let done: Vec<u64> = state
            .segments
            .iter()
            .filter(|(seq, c)| Some(**seq) != active && c.stored >= c.appended)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in done {
            state.segments.remove(&seq);
            remove(&state.dir, seq);
        }
    }

    /// Closes and deletes the active segment when every click in it is stored (the writer
    /// calls it after each round), so an idle server keeps no journal.
    pub fn settle(&self) {
        let Ok(mut guard) = self.state.lock() else {
            return;
        };
        let Some(state) = guard.as_mut() else {
            return;
        };
        let Some(seq) = state.active.as_ref().map(|(seq, _, _)| *seq) else {
            return;
        };
        if state
            .segments
            .get(&seq)
            .is_some_and(|c| c.stored >= c.appended)
        {
            state.active = None;
            state.segments.remove(&seq);
            remove(&state.dir, seq);
        }
    }

    /// Clicks journaled and not yet reported stored (a gauge for tests and logs).
    pub fn pending(&self) -> u64 {
        self.state.lock().ok().map_or(0, |g| {
            g.as_ref().map_or(0, |s| {
                s.segments
                    .values()
                    .map(|c| c.appended.saturating_sub(c.stored))
                    .sum()
            })
        })
    }

    /// Takes the first free, empty journal slot. A free slot that still holds segments is a
    /// killed process's journal: it is left to the writer's start-up drain, not appended to.
    fn take_slot(&self) -> io::Result<State> {
        for n in 0..SLOTS {
            let dir = slot_dir(&self.root, n);
            let Some(lock) = spill::lock_slot(&dir)? else {
                continue;
            };
            if spill::segments(&dir)?.is_empty() {
                return Ok(State {
                    dir,
                    _lock: lock,
                    active: None,
                    next_seq: 0,
                    segments: BTreeMap::new(),
                });
            }
        }
        Err(io::Error::other(format!(
            "no free click-journal slot under {}",
            self.root.display()
        )))
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.spill"))
}

fn remove(dir: &Path, seq: u64) {
    let path = segment_path(dir, seq);
    if let Err(e) = std::fs::remove_file(&path) {
        // Left on disk: the next start replays it, and stored clicks are skipped.
        tracing::warn!(error = %e, path = %path.display(), "cannot remove a click journal segment");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_deleted_once_every_click_in_them_is_stored() {
        let root = std::env::temp_dir().join(format!("affilia-journal-{}", ulid::Ulid::generate()));
        let j = Journal::new(root.clone());
        let a = j.append(b"one").unwrap();
        let b = j.append(b"two").unwrap();
        assert_eq!(a, b);
        let dir = slot_dir(&root, 0);
        assert_eq!(spill::segments(&dir).unwrap().len(), 1);
        // Stored but still active: kept until the round settles.
        j.stored(&[a]);
        j.settle();
        assert_eq!(spill::segments(&dir).unwrap().len(), 1);
        assert_eq!(j.pending(), 1);
        j.stored(&[b]);
        j.settle();
        assert!(spill::segments(&dir).unwrap().is_empty());
        assert_eq!(j.pending(), 0);
        // A new click opens a new segment in the same slot.
        let c = j.append(b"three").unwrap();
        assert!(c > b);
        // A second journal (another process) takes another slot; a free slot holding a
        // killed process's segments is left for the start-up drain.
        let other = Journal::new(root.clone());
        other.append(b"x").unwrap();
        assert_eq!(spill::segments(&slot_dir(&root, 1)).unwrap().len(), 1);
        drop(other);
        let third = Journal::new(root.clone());
        third.append(b"y").unwrap();
        assert_eq!(spill::segments(&slot_dir(&root, 2)).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(root);
    }
}
