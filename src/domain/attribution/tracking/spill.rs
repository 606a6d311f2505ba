//! The durable overflow of the click queue: clicks the writer cannot take right now are
//! appended to files under `<data dir>/click-spill/` and put into the database later, in the
//! order they were written.
//!
//! Layout: `<data dir>/click-spill/<db key>/<slot>/<seq>.spill`. The `db key` is derived
//! from the database URL, so a data dir shared by installations on different databases never
//! drains one's clicks into the other. A process owns one `slot` (a directory with a `lock`
//! file it holds an exclusive `flock` on for its lifetime), taken lazily at the first spill:
//! two processes on one data dir each get their own slot instead of appending to the same
//! files. A lock dies with its process, so after a crash the next process to start takes the
//! slot over and drains it.
//!
//! Records: `[payload length: u32 LE][CRC-32 of the payload: u32 LE][payload: the click as
//! JSON]`, each appended with one `write` call on an `O_APPEND` file. A crash can therefore
//! only leave a torn *last* record, which fails its length or checksum and is skipped; the
//! records before it are intact.
//!
//! Durability: a record is in the kernel when the redirect answers, so it survives a crash
//! or kill of the process. The click writer `fsync`s the files every round (tens of
//! milliseconds while spilling) and before a file is drained; a power loss may lose the last
//! round, as SQLite with `synchronous = NORMAL` may lose its last transactions.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use crate::db::clicks::ClickRow;

/// Name of the spill directory inside the data dir.
pub const DIR: &str = "click-spill";
/// A segment is closed and a new one started past this size, so draining reads a bounded
/// amount at a time (about 10,000 clicks).
const SEGMENT_MAX: u64 = 4 * 1024 * 1024;
/// Slots tried per database before spilling fails (processes on one data dir).
const SLOTS: u32 = 64;
/// Longest payload accepted when reading (a click is well under 8 KiB).
const RECORD_MAX: usize = 1024 * 1024;
const HEADER: usize = 8;

/// The spill directory of one database under `data_dir`.
pub fn root(data_dir: &Path, database_url: &str) -> PathBuf {
    let digest = Sha256::digest(database_url.as_bytes());
    data_dir.join(DIR).join(hex::encode(&digest[..8]))
}

/// The directory of slot `n` under a database's spill root.
pub fn slot_dir(root: &Path, n: u32) -> PathBuf {
    root.join(n.to_string())
}

/// One record, as appended: header and JSON payload.
pub fn encode(click: &ClickRow) -> io::Result<Vec<u8>> {
    let payload = serde_json::to_vec(click)?;
    let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("click too large"))?;
    let mut rec = Vec::with_capacity(HEADER + payload.len());
    rec.extend_from_slice(&len.to_le_bytes());
    rec.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    rec.extend_from_slice(&payload);
    Ok(rec)
}

/// The clicks of a segment's bytes, in order, and how many trailing bytes were not a
/// complete, valid record (a torn last write).
pub fn decode(bytes: &[u8]) -> (Vec<ClickRow>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= HEADER {
        let word = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[at + i..at + i + 4]);
            u32::from_le_bytes(b)
        };
        let len = word(0) as usize;
        let crc = word(4);
        if len > RECORD_MAX || bytes.len() - at - HEADER < len {
            break;
        }
        let payload = &bytes[at + HEADER..at + HEADER + len];
        if crc32fast::hash(payload) != crc {
            break;
        }
        match serde_json::from_slice::<ClickRow>(payload) {
            Ok(c) => out.push(c),
            Err(_) => break,
        }
        at += HEADER + len;
    }
    (out, bytes.len() - at)
}

/// The segments of a slot directory, oldest first.
pub fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".spill"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            found.push((seq, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The slot directories under a database's spill root.
pub fn slots(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Takes the exclusive lock of a slot directory (created if missing); `None` when another
/// process (or another writer of this one) holds it.
pub fn lock_slot(dir: &Path) -> io::Result<Option<File>> {
    std::fs::create_dir_all(dir)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// The slot this process appends to.
#[derive(Debug)]
struct Slot {
    dir: PathBuf,
    /// Held for the process's lifetime: the lock is the claim on the directory.
    _lock: File,
    /// The segment being appended to, its sequence number and size.
    active: Option<(u64, File, u64)>,
    next_seq: u64,
    /// Segments closed for appending, oldest first, not yet drained.
    closed: VecDeque<PathBuf>,
    /// Closed segment files whose data has not been fsynced yet.
    unsynced: Vec<File>,
}

/// This process's spill: appends from the redirect, segments for the writer to drain.
#[derive(Debug)]
pub struct Spill {
    root: PathBuf,
    slot: Mutex<Option<Slot>>,
    dirty: AtomicBool,
}

impl Spill {
    /// A spill under `root` (see [`root`]); nothing is created until the first append.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            slot: Mutex::new(None),
            dirty: AtomicBool::new(false),
        }
    }

    /// The database's spill root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Appends one record (from [`encode`]) to the active segment.
    pub fn append(&self, record: &[u8]) -> io::Result<()> {
        let mut guard = self.slot.lock().map_err(|_| io::Error::other("poisoned"))?;
        if guard.is_none() {
            *guard = Some(self.take_slot()?);
        }
        let Some(slot) = guard.as_mut() else {
            return Err(io::Error::other("no spill slot"));
        };
        if slot
            .active
            .as_ref()
            .is_some_and(|(_, _, size)| *size >= SEGMENT_MAX)
        {
            close_active(slot);
        }
        if slot.active.is_none() {
            let seq = slot.next_seq;
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(segment_path(&slot.dir, seq))?;
            slot.next_seq += 1;
            slot.active = Some((seq, file, 0));
        }
        if let Some((_, file, size)) = slot.active.as_mut() {
            file.write_all(record)?;
            *size += record.len() as u64;
        }
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    fn take_slot(&self) -> io::Result<Slot> {
        for n in 0..SLOTS {
            let dir = slot_dir(&self.root, n);
            if let Some(lock) = lock_slot(&dir)? {
                // Leftovers of a previous owner stay queued before our own segments.
                let existing = segments(&dir)?;
                let next_seq = existing.last().map_or(0, |(s, _)| s + 1);
                return Ok(Slot {
                    dir,
                    _lock: lock,
                    active: None,
                    next_seq,
                    closed: existing.into_iter().map(|(_, p)| p).collect(),
                    unsynced: Vec::new(),
                });
            }
        }
        Err(io::Error::other(format!(
            "all {SLOTS} click-spill slots under {} are locked by other processes",
            self.root.display()
        )))
    }

    /// Closes the active segment (if it holds anything) and returns the oldest segment not
    /// yet drained.
    pub fn oldest(&self) -> Option<PathBuf> {
        let mut guard = self.slot.lock().ok()?;
        let slot = guard.as_mut()?;
        if slot.closed.is_empty() && slot.active.as_ref().is_some_and(|(_, _, s)| *s > 0) {
            close_active(slot);
        }
        slot.closed.front().cloned()
    }

    /// Whether a segment is waiting to be drained (cheap; the redirect's writer checks it
    /// every round).
    pub fn has_pending(&self) -> bool {
        self.slot.lock().ok().is_some_and(|g| {
            g.as_ref().is_some_and(|s| {
                !s.closed.is_empty() || s.active.as_ref().is_some_and(|(_, _, n)| *n > 0)
            })
        })
    }

    /// Forgets a drained segment and deletes its file.
    pub fn remove(&self, path: &Path) -> io::Result<()> {
        if let Ok(mut guard) = self.slot.lock()
            && let Some(slot) = guard.as_mut()
        {
            slot.closed.retain(|p| p != path);
        }
        std::fs::remove_file(path)
    }

    /// Flushes what was appended since the last call to stable storage. Blocking; the
    /// writer calls it off the async threads.
    pub fn sync(&self) -> io::Result<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let (active, closed) = {
            let mut guard = self.slot.lock().map_err(|_| io::Error::other("poisoned"))?;
            let Some(slot) = guard.as_mut() else {
                return Ok(());
            };
            let active = match slot.active.as_ref() {
                Some((_, f, _)) => Some(f.try_clone()?),
                None => None,
            };
            (active, std::mem::take(&mut slot.unsynced))
        };
        // Outside the lock: an fsync takes milliseconds and the redirect appends meanwhile.
        for f in closed.iter().chain(active.iter()) {
            f.sync_data()?;
        }
        Ok(())
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.spill"))
}

fn close_active(slot: &mut Slot) {
    if let Some((seq, file, _)) = slot.active.take() {
        slot.unsynced.push(file);
        slot.closed.push_back(segment_path(&slot.dir, seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(n: u32) -> ClickRow {
        ClickRow {
            id: format!("clk_{n:026}"),
            vendor_id: "ven_1".into(),
            program_id: "prg_1".into(),
            enrollment_id: "enr_1".into(),
            affiliate_id: "aff_1".into(),
            link_id: None,
            code: "jane".into(),
            landing_url: "https://shop.test/".into(),
            referrer: Some("https://news.test/".into()),
            user_agent: None,
            ip_hash: "ab".into(),
            is_bot: 0,
            is_duplicate: 0,
            source: "redirect".into(),
            created_at: i64::from(n),
        }
    }

    #[test]
    fn a_torn_last_record_is_skipped_and_the_rest_kept() {
        let mut bytes = Vec::new();
        for n in 0..3 {
            bytes.extend(encode(&click(n)).unwrap());
        }
        let whole = bytes.len();
        let last = encode(&click(3)).unwrap();
        bytes.extend(&last[..last.len() - 5]);
        let (rows, torn) = decode(&bytes);
        assert_eq!(
            rows.iter().map(|r| r.created_at).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(torn, bytes.len() - whole);
        // A flipped byte in the last record fails its checksum.
        let mut bad = bytes[..whole].to_vec();
        let n = bad.len();
        bad[n - 2] ^= 0x20;
        assert_eq!(decode(&bad).0.len(), 2);
        // A header alone, or nothing at all.
        assert_eq!(decode(&last[..6]).0.len(), 0);
        let (none, torn) = decode(&[]);
        assert!(none.is_empty() && torn == 0);
    }

    #[test]
    fn processes_take_separate_slots_and_segments_drain_in_order() {
        let dir = std::env::temp_dir().join(format!("affilia-spill-{}", ulid::Ulid::generate()));
        let a = Spill::new(dir.clone());
        let b = Spill::new(dir.clone());
        a.append(&encode(&click(1)).unwrap()).unwrap();
        b.append(&encode(&click(2)).unwrap()).unwrap();
        assert_eq!(slots(&dir).unwrap().len(), 2);
        a.append(&encode(&click(3)).unwrap()).unwrap();
        a.sync().unwrap();
        let first = a.oldest().unwrap();
        let (rows, torn) = decode(&std::fs::read(&first).unwrap());
        assert_eq!((rows.len(), torn), (2, 0));
        a.remove(&first).unwrap();
        assert!(a.oldest().is_none());
        assert!(!a.has_pending());
        a.append(&encode(&click(4)).unwrap()).unwrap();
        let second = a.oldest().unwrap();
        assert!(second > first, "{second:?} after {first:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
