//! A generated corpus of malformed paths, queries, methods and bodies, sent
//! over raw TCP (so nothing is normalised on the way): never a 5xx, and
//! every 4xx is problem+json.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Sends one raw request; returns the status and the response head.
async fn raw(addr: std::net::SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answer within 10s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {method} {target}: {text:?}"));
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    (status, head)
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx_answers() {
    let app = spawn_app().await;
    let long = format!("/{}", "a".repeat(4000));
    let long_types = format!("?type={}", "IMAGE,".repeat(500));
    let paths = [
        "/",
        "/feed",
        "/feed/",
        "//feed",
        "/feed/../feed",
        "/FEED",
        "/feed%00",
        "/%ff",
        "/%",
        "/%2e%2e/etc/passwd",
        "/media/%2e%2e/x",
        "/media/",
        "/media/abc",
        "/media/1/thumbnail/extra",
        "/token",
        "/admin/token",
        "/admin",
        "/metrics",
        "/openapi.json",
        "/readyz",
        "/healthz",
        "/docs/nope.js",
        long.as_str(),
        "/feed;x",
        "/caf%C3%A9",
        "/feed?",
    ];
    let queries = [
        "",
        "?",
        "?limit",
        "?limit=",
        "?limit=%ZZ",
        "?limit=1e3",
        "?limit=99999999999999999999999",
        "?type=%00",
        "?type=IMAGE&type=VIDEO",
        "?limit=5&limit=0",
        "?&&&",
        "?%=%",
        "?limit=%2B5",
        long_types.as_str(),
    ];
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO",
    ];
    let bodies: [&[u8]; 3] = [b"", b"{not json", &[0xff; 20_000]];

    let mut cases = Vec::new();
    for p in paths {
        for q in queries {
            cases.push(("GET", format!("{p}{q}"), &b""[..]));
        }
        for m in methods {
            for b in bodies {
                cases.push((m, p.to_string(), b));
            }
        }
    }
    let mut checked = 0;
    for (method, target, body) in cases {
        let (status, head) = raw(app.addr, method, &target, body).await;
        assert!(status < 500, "{method} {target}: {status}\n{head}");
        if (400..500).contains(&status) {
            assert!(
                head.contains("content-type: application/problem+json"),
                "{method} {target}: {status} is not problem+json\n{head}"
            );
        }
        checked += 1;
    }
    assert!(checked > 500, "{checked} requests");
    // The service still serves normally afterwards.
    assert_eq!(app.get("/feed").await.status(), 200);
}
