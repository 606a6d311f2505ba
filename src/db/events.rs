//! Domain events (the outbox of outbound webhooks).

use sqlx::{Any, Executor};

use super::{new_id, now_ms};

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its id (`evt_…`).
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Type (`conversion.created`, …).
    pub kind: String,
    /// The `data` object (JSON).
    pub payload: String,
    /// Time of the change, unix ms.
    pub created_at: i64,
}

/// Appends an event in the caller's transaction (inside an ingest batch, with the batch's
/// other events at its end: `db::deferred`).
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    kind: &str,
    payload: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id("evt");
    let event = || NewEvent {
        id: id.clone(),
        vendor_id: vendor_id.to_owned(),
        kind: kind.to_owned(),
        payload: payload.to_owned(),
        created_at: now_ms(),
    };
    if super::deferred::add(|p| p.events.push(event())) {
        return Ok(id);
    }
    sqlx::query(
        "INSERT INTO events (id, vendor_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(vendor_id)
    .bind(kind)
    .bind(payload)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(id)
}

/// Events per statement of [`insert_rows`] (5 values each: far below both parameter limits).
const ROWS: usize = 200;

/// Appends `events` in the caller's transaction, a few hundred per statement.
pub(super) async fn insert_rows(
    conn: &mut super::Conn,
    events: &[NewEvent],
) -> Result<(), sqlx::Error> {
    for chunk in events.chunks(ROWS) {
        let mut sql = super::sql::Sql::new(
            "INSERT INTO events (id, vendor_id, type, payload, created_at) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            sql = sql.row(
                i == 0,
                &[
                    e.id.as_str().into(),
                    e.vendor_id.as_str().into(),
                    e.kind.as_str().into(),
                    e.payload.as_str().into(),
                    e.created_at.into(),
                ],
            );
        }
        sql.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Appends events of one kind of a vendor in the caller's transaction, a few hundred per
/// statement (a payout run announces each payout it creates).
pub async fn insert_many(
    conn: &mut super::Conn,
    vendor_id: &str,
    kind: &str,
    payloads: &[String],
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let events: Vec<NewEvent> = payloads
        .iter()
        .map(|payload| NewEvent {
            id: new_id("evt"),
            vendor_id: vendor_id.to_owned(),
            kind: kind.to_owned(),
            payload: payload.clone(),
            created_at: now,
        })
        .collect();
    insert_rows(conn, &events).await
}

/// Appends several events of a vendor in the caller's transaction, two per statement (a
/// conversion and its direct commission are the common pair: one round trip instead of
/// two), or inside an ingest batch with the batch's other events at its end.
pub async fn insert_all(
    conn: &mut super::Conn,
    vendor_id: &str,
    events: &[(&str, String)],
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let deferred = super::deferred::add(|p| {
        p.events
            .extend(events.iter().map(|(kind, payload)| NewEvent {
                id: new_id("evt"),
                vendor_id: vendor_id.to_owned(),
                kind: (*kind).to_owned(),
                payload: payload.clone(),
                created_at: now,
            }))
    });
    if deferred {
        return Ok(());
    }
    for chunk in events.chunks(2) {
        match chunk {
            [(k1, p1), (k2, p2)] => {
                sqlx::query(
                    "INSERT INTO events (id, vendor_id, type, payload, created_at) \
                     VALUES ($1, $2, $3, $4, $5), ($6, $2, $7, $8, $5)",
                )
                .bind(new_id("evt"))
                .bind(vendor_id)
                .bind(*k1)
                .bind(p1.as_str())
                .bind(now)
                .bind(new_id("evt"))
                .bind(*k2)
                .bind(p2.as_str())
                .execute(&mut *conn)
                .await?;
            }
            _ => {
                for (kind, payload) in chunk {
                    insert(&mut *conn, vendor_id, kind, payload).await?;
                }
            }
        }
    }
    Ok(())
}
