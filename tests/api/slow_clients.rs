//! Slow or hostile clients do not stop others from being served.

use std::time::Duration;

use igfeed::app::Tuning;
use igfeed::server::Limits;
use igfeed_fake::{FakeOptions, sample_media};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// An app whose clients get `header_read` to send a request's headers (and
/// their first byte), with at most `max_connections` served at once.
async fn limited_app(header_read: Duration, max_connections: usize) -> TestApp {
    let tuning = Tuning {
        limits: Limits {
            header_read_timeout: header_read,
            max_connections,
            idle_timeout: Duration::from_secs(2),
        },
        ..Tuning::default()
    };
    spawn_app_tuned(FakeOptions::default(), sample_media(3), |_| {}, tuning).await
}

/// Waits (up to `deadline`) for the server to close `s`; true if it did.
async fn closed_within(s: &mut TcpStream, deadline: Duration) -> bool {
    let mut buf = Vec::new();
    tokio::time::timeout(deadline, s.read_to_end(&mut buf))
        .await
        .is_ok()
}

#[tokio::test]
async fn slowloris_connections_are_cut_and_do_not_block_others() {
    let app = limited_app(Duration::from_secs(2), 1024).await;
    app.get_feed().await;
    // 64 clients that trickle their headers and never finish them.
    let mut slow = Vec::new();
    for _ in 0..64 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /feed HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    let trickle = tokio::spawn(async move {
        for i in 0..12 {
            for s in slow.iter_mut() {
                let _ = s.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        slow
    });
    // Meanwhile other clients are served.
    for _ in 0..20 {
        assert_eq!(app.get("/feed").await.status(), 200);
    }
    // The header read timeout (2s) has closed the slow connections long
    // before the trickle (6s) ends; the deadline is only a guard.
    let mut slow = trickle.await.unwrap();
    for s in slow.iter_mut() {
        assert!(
            closed_within(s, Duration::from_secs(30)).await,
            "a slow connection was still open after the header read timeout"
        );
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = limited_app(Duration::from_secs(1), 1024).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    // Half an HTTP/2 preface is no request either.
    let mut half = TcpStream::connect(app.addr).await.unwrap();
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let mut h1 = TcpStream::connect(app.addr).await.unwrap();
    h1.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Without the timeout these stay open forever: the deadline is a guard.
    assert!(
        closed_within(&mut silent, Duration::from_secs(30)).await,
        "silent"
    );
    assert!(
        closed_within(&mut half, Duration::from_secs(30)).await,
        "half preface"
    );
    // A kept-alive connection after its request is closed the same way.
    assert!(
        closed_within(&mut h1, Duration::from_secs(30)).await,
        "idle keep-alive"
    );
}

#[tokio::test]
async fn an_http2_connection_without_streams_is_closed() {
    let app = limited_app(Duration::from_secs(5), 1024).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    // The whole preface and an empty SETTINGS frame, then nothing.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    // Idle timeout 2s; without it the connection stays open forever.
    assert!(closed_within(&mut s, Duration::from_secs(30)).await);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed() {
    let app = limited_app(Duration::from_secs(5), 1024).await;
    app.get_feed().await;
    let s = TcpStream::connect(app.addr).await.unwrap();
    let (mut read, mut write) = s.into_split();
    // Far more answers than the socket buffers hold, never read.
    let requests = b"GET /feed HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20_000);
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&requests).await;
        write
    });
    // The server's writes stall; once nothing has moved for the idle
    // timeout (2s) it closes the connection. Then reading finds the end.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(60), read.read_to_end(&mut sink))
        .await
        .is_ok();
    assert!(
        closed,
        "the connection was still open ({} bytes read)",
        sink.len()
    );
    // Cut while stalled, not after answering everything (a kept-alive
    // connection also ends, by the header read timeout, once all is read).
    let answers = sink.windows(12).filter(|w| w == b"HTTP/1.1 200").count();
    assert!(answers < 20_000, "all {answers} answers were written");
    writer.abort();
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = limited_app(Duration::from_secs(60), 2).await;
    let hold = [
        TcpStream::connect(app.addr).await.unwrap(),
        TcpStream::connect(app.addr).await.unwrap(),
    ];
    // Both slots are taken by silent clients: a third waits in the backlog.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let third = tokio::spawn({
        let url = format!("{}/healthz", app.url);
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "served past the connection cap");
    drop(hold);
    let status = tokio::time::timeout(Duration::from_secs(30), third)
        .await
        .expect("served once a slot was free")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn oversized_headers_are_refused_and_others_served() {
    let app = spawn_app().await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let big = "a".repeat(100 * 1024);
    let req = format!("GET /feed HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(req.as_bytes()).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("answered");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert_eq!(app.get("/feed").await.status(), 200);
}

#[tokio::test]
async fn a_large_body_on_get_does_not_disturb_the_service() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/feed", app.url))
        .body(vec![b'x'; 1024 * 1024])
        .send()
        .await
        .unwrap();
    // GET ignores the body; the service still answers normally.
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
}
