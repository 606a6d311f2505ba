//! `affilia backup` and `affilia restore` for SQLite installations. On PostgreSQL both
//! refuse and point at pg_dump / pg_restore, which do the job properly there.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::db::{self, Db, DbKind};

/// What to say on PostgreSQL instead of pretending.
pub const POSTGRES_BACKUP: &str = "this installation runs on PostgreSQL: back it up with \
    `pg_dump --format=custom --file=affilia.dump \"$DATABASE_URL\"` (consistent while the \
    server runs) and restore with `pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" \
    affilia.dump` (see README, Backups)";

/// Writes a consistent copy of the running SQLite database to `target`, which must not
/// exist yet. Safe while `affilia serve` runs (`VACUUM INTO` reads one snapshot).
pub async fn backup(db: &Db, target: &Path) -> anyhow::Result<u64> {
    if db.kind() == DbKind::Postgres {
        bail!("{POSTGRES_BACKUP}");
    }
    if target.exists() {
        bail!(
            "{} already exists; a backup never overwrites a file",
            target.display()
        );
    }
    let path = target
        .to_str()
        .context("the backup path is not valid UTF-8")?;
    db::backup::vacuum_into(db.pool(), path)
        .await
        .with_context(|| format!("backing up to {}", target.display()))?;
    Ok(std::fs::metadata(target)?.len())
}

/// The file behind a `sqlite:` database URL.
pub fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .context("not a SQLite database URL")?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") {
        bail!("an in-memory database cannot be restored into");
    }
    Ok(PathBuf::from(path))
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// Where the database that was replaced was kept (`None`: there was none).
    pub kept_aside: Option<PathBuf>,
    /// The migration level of the backup.
    pub migration: i64,
}

/// Replaces the SQLite database of `database_url` with the backup at `source`, after
/// checking that it is an Affilia database at a migration this build knows. A target
/// holding any vendor is refused unless `force`; an existing target is renamed aside
/// (`<file>.before-restore-<unix ms>`), never deleted. Stop every server first.
pub async fn restore(database_url: &str, source: &Path, force: bool) -> anyhow::Result<Restored> {
    if !database_url.starts_with("sqlite:") {
        bail!("{POSTGRES_BACKUP}");
    }
    let target = sqlite_path(database_url)?;
    if !source.is_file() {
        bail!("{} does not exist", source.display());
    }
    let src = source
        .to_str()
        .context("the backup path is not valid UTF-8")?;
    let found = db::backup::inspect(src)
        .await
        .map_err(|e| anyhow::anyhow!("{} is not a SQLite database ({e})", source.display()))?;
    let Some(migration) = found.migration else {
        bail!(
            "{} is not an Affilia database (no migration table)",
            source.display()
        );
    };
    if !Db::is_known_migration(migration) {
        bail!(
            "{} is at schema migration {migration}, unknown to this build (newest known: {}); \
             restore it with the Affilia version that wrote it",
            source.display(),
            Db::latest_migration()
        );
    }
    let mut kept_aside = None;
    if target.exists() {
        let tgt = target
            .to_str()
            .context("the database path is not valid UTF-8")?;
        let current = db::backup::inspect(tgt).await.ok();
        let in_use = current.as_ref().is_none_or(|c| c.vendors > 0);
        if in_use && !force {
            bail!(
                "{} already holds data ({}); pass --force to replace it (it is kept aside, not deleted)",
                target.display(),
                match current {
                    Some(c) => format!("{} vendor(s)", c.vendors),
                    None => "not readable as an Affilia database".into(),
                }
            );
        }
        if current.is_some() {
            db::backup::checkpoint(tgt)
                .await
                .context("checkpointing the current database")?;
        }
        let aside = PathBuf::from(format!(
            "{}.before-restore-{}",
            target.display(),
            db::now_ms()
        ));
        std::fs::rename(&target, &aside)
            .with_context(|| format!("moving {} aside", target.display()))?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", target.display()));
            if side.exists() {
                std::fs::rename(&side, format!("{}{suffix}", aside.display()))?;
            }
        }
        kept_aside = Some(aside);
    }
    // Copy next to the target, then rename: a crash never leaves a half-copied database
    // under the real name.
    let partial = PathBuf::from(format!("{}.restoring", target.display()));
    std::fs::copy(source, &partial).with_context(|| format!("copying {}", source.display()))?;
    std::fs::rename(&partial, &target)?;
    let restored = Db::connect(database_url).await?;
    let migrated = restored.migrate().await;
    restored.close().await;
    migrated?;
    Ok(Restored {
        kept_aside,
        migration,
    })
}
