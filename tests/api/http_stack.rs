//! What the HTTP stack adds to every answer: one error format, CORS, and
//! no secret in any body, header or log line.

use std::time::Duration;

use igfeed_fake::{FakeOptions, Fault, Route, sample_media};
use reqwest::Method;

use crate::helpers::*;

#[tokio::test]
async fn errors_are_problem_json_everywhere() {
    let app = spawn_app().await;
    assert_problem(app.get("/nope").await, 404).await;
    let res = app.request(Method::POST, "/feed", &[]).await;
    assert_problem(res, 405).await;
    let res = app.request(Method::HEAD, "/feed", &[]).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn every_answer_says_nosniff() {
    let app = spawn_app().await;
    let answers = [
        app.get("/feed").await,
        app.get("/nope").await,
        app.request(Method::POST, "/feed", &[]).await,
        app.get("/metrics").await,
        app.get("/openapi.json").await,
        app.get("/media/1").await,
        app.get("/feed?limit=abc").await,
    ];
    for res in answers {
        let what = format!("{} {}", res.url().path(), res.status());
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{what}");
    }
}

#[tokio::test]
async fn cors_follows_configuration() {
    let app = spawn_app().await;
    let res = app
        .get_with("/feed", &[("origin", "https://anywhere.example")])
        .await;
    assert_eq!(res.headers()["access-control-allow-origin"], "*");

    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.cors_origins = igfeed::config::CorsOrigins::List(vec!["https://shop.example".into()]);
    })
    .await;
    let res = app
        .get_with("/feed", &[("origin", "https://shop.example")])
        .await;
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let vary: Vec<_> = res.headers().get_all("vary").iter().collect();
    let varies_on_origin = vary
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"));
    assert!(varies_on_origin, "{vary:?}");
    let res = app
        .get_with("/feed", &[("origin", "https://evil.example")])
        .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Preflights: granted to allowed origins only, never reach a route.
    let preflight = |origin| {
        let headers = [
            ("origin", origin),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "range"),
        ];
        let app = &app;
        async move { app.request(Method::OPTIONS, "/media/1", &headers).await }
    };
    let res = preflight("https://shop.example").await;
    // tower-http's CorsLayer answers preflights 200 (any 2xx is "ok").
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "https://shop.example");
    assert_eq!(h["access-control-allow-methods"], "GET,HEAD");
    assert_eq!(
        h["access-control-allow-headers"],
        "if-none-match,range,x-request-id"
    );
    let res = preflight("https://evil.example").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // tower-http answers every OPTIONS as a preflight: without an Origin
    // it grants nothing, and it never reaches a route.
    let res = app.request(Method::OPTIONS, "/feed", &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn no_token_in_any_body_header_or_log_line() {
    let (logs, _guard) = capture_logs();
    let opts = FakeOptions {
        max_page_size: 5,
        ..FakeOptions::default()
    };
    let app = spawn_app_with(opts, sample_media(12), |c| {
        c.feed_ttl = Duration::from_millis(200)
    })
    .await;
    let mut seen = String::new();
    let record = |res: reqwest::Response| async move {
        let mut s = format!("{:?}", res.headers());
        s.push_str(&String::from_utf8_lossy(&res.bytes().await.unwrap()));
        s
    };
    seen.push_str(&record(app.get("/feed").await).await);
    for fault in [
        Fault::Status(500),
        Fault::Garbage,
        Fault::GraphError {
            status: 400,
            code: 100,
            message: format!("bad parameter near {}", app.token),
        },
        Fault::GraphError {
            status: 400,
            code: 190,
            message: "Error validating access token".into(),
        },
    ] {
        app.fake.fail(Route::MediaList, fault, 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        seen.push_str(&record(app.get("/feed").await).await);
    }
    seen.push_str(&record(app.get("/feed?limit=abc").await).await);
    let logs = logs.text();
    assert!(logs.contains("fetched the feed"), "logs were captured");
    assert!(!logs.contains(&app.token), "token in logs");
    assert!(!seen.contains(&app.token), "token in a response");
    assert!(
        !logs.contains("access_token="),
        "a URL with a token in the logs"
    );
}

#[tokio::test]
async fn http2_without_public_url_takes_the_host_from_the_authority() {
    let app = spawn_app().await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2.get(format!("{}/feed", app.url)).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let first = body["data"][0]["media_url"].as_str().unwrap();
    assert!(
        first.starts_with(&format!("{}/media/", app.url)),
        "{first} should start with {}",
        app.url
    );
}

#[tokio::test]
async fn pages_forbid_framing_and_foreign_code_and_admin_answers_are_never_stored() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.demo = true;
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
    })
    .await;
    for path in ["/docs/", "/demo"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let policy = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
        assert!(
            !policy.contains("script-src 'unsafe-inline'"),
            "{path}: {policy}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
    for (method, key) in [(Method::GET, Some(ADMIN_KEY)), (Method::GET, None)] {
        let res = app.admin(method, "/admin/token", key, None).await;
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    let res = app
        .admin(Method::POST, "/admin/cache/purge", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
}
