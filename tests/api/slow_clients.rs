//! Slow clients (issue 21): a chunked body that stalls is answered 408 within the body
//! timeout, and `--max-connections` makes connections past the limit wait until one is
//! freed, after which the server serves them.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::vendors::shop;
use crate::helpers::{TestApp, spawn_app_with};

/// Reads what the server sends until it closes the connection or `limit` passes (the
/// bound only keeps a broken server from hanging the run).
async fn read_answer(stream: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(limit, stream.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            // Head received; the rest (a short envelope) follows at once.
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await
            {
                answer.extend_from_slice(&buf[..n]);
            }
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(app: &TestApp, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        app.addr
    )
}

#[tokio::test]
async fn a_stalled_chunked_body_gets_a_408_within_the_body_timeout() {
    let app = spawn_app_with(|s| s.body_timeout = Duration::from_secs(1)).await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let before = app.count("SELECT COUNT(*) FROM affiliates").await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/affiliates HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.addr, s.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // One chunk of half a JSON object, then nothing: no further chunk, no last chunk.
    let part = br#"{"email": "slow@partners.test", "na"#;
    stream
        .write_all(format!("{:x}\r\n", part.len()).as_bytes())
        .await
        .unwrap();
    stream.write_all(part).await.unwrap();
    stream.write_all(b"\r\n").await.unwrap();
    stream.flush().await.unwrap();
    // Far longer than the 1 s timeout: a server without one would leave this unanswered.
    let answer = read_answer(&mut stream, Duration::from_secs(30)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    // The connection is not kept for the stalled client: the server closes it.
    let mut buf = [0u8; 64];
    let rest = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await;
    assert!(matches!(rest, Ok(Ok(0) | Err(_))), "{rest:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, before);
}

#[tokio::test]
async fn connections_past_max_connections_wait_and_are_served_once_one_is_freed() {
    // One HTTP worker holding at most two connections.
    let app = spawn_app_with(|s| {
        s.http_workers = Some(1);
        s.max_connections = 2;
        s.body_timeout = Duration::from_secs(30);
    })
    .await;
    // Two clients that connect and send nothing hold both places.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // A third connects (the listen queue takes it) but is not served while they hold on.
    let mut waiting = TcpStream::connect(app.addr).await.unwrap();
    waiting
        .write_all(get(&app, "/healthz").as_bytes())
        .await
        .unwrap();
    let early = read_answer(&mut waiting, Duration::from_secs(1)).await;
    assert_eq!(early, "", "served past the connection limit: {early}");
    // One slow client goes away: the waiting request is served on its connection.
    drop(held.remove(0));
    let answer = read_answer(&mut waiting, Duration::from_secs(30)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    // And the server keeps serving new clients.
    drop(held);
    let mut fresh = TcpStream::connect(app.addr).await.unwrap();
    fresh
        .write_all(get(&app, "/healthz").as_bytes())
        .await
        .unwrap();
    let answer = read_answer(&mut fresh, Duration::from_secs(30)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}
