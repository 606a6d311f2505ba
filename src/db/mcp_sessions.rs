//! MCP sessions ended by their client (`DELETE /mcp`). Session ids themselves are signed,
//! not stored (see `domain::access::mcp_sessions`).

use sqlx::{Any, Executor};

/// Records that the session `id` has ended (idempotent).
pub async fn end<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mcp_ended_sessions (id, ended_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(at_ms)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether the session `id` was ended.
pub async fn is_ended<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM mcp_ended_sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(ex)
            .await?;
    Ok(found.is_some())
}

/// Forgets ended sessions older than `before_ms` (their ids have expired by then).
pub async fn purge<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    before_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mcp_ended_sessions WHERE ended_at < $1")
        .bind(before_ms)
        .execute(ex)
        .await?;
    Ok(())
}
