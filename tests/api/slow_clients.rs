//! Slow or hostile clients do not stop others from being served.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

#[tokio::test]
async fn slowloris_connections_are_cut_and_do_not_block_others() {
    let app = spawn_app().await;
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
        for i in 0..24 {
            for s in slow.iter_mut() {
                let _ = s.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        slow
    });
    // Meanwhile other clients are served promptly.
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(app.get("/feed").await.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The header read timeout closes the slow connections.
    let mut slow = trickle.await.unwrap();
    let started = Instant::now();
    for s in slow.iter_mut() {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(
            read.is_ok(),
            "a slow connection was still open after the header read timeout"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(6));
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
