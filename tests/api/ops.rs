//! Operations: OpenAPI document and docs UI, metrics, request ids, logs.

use igfeed_fake::{FakeOptions, Fault, Route, sample_media};

use crate::helpers::*;

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[tokio::test]
async fn served_spec_matches_the_committed_file() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json").await;
    assert_eq!(res.status(), 200);
    let served: serde_json::Value = res.json().await.unwrap();
    let committed: serde_json::Value = serde_json::from_str(COMMITTED).unwrap();
    assert!(
        served == committed,
        "openapi/openapi.json is out of date: run `cargo run -q -- openapi > openapi/openapi.json`"
    );
    assert_eq!(served["openapi"], "3.1.0");
    for path in ["/feed", "/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert!(served["paths"][path].is_object(), "{path} is documented");
    }
    // Error answers are documented as problem+json.
    let feed400 = &served["paths"]["/feed"]["get"]["responses"]["400"]["content"];
    assert!(feed400["application/problem+json"].is_object(), "{feed400}");
}

#[tokio::test]
async fn docs_ui_is_served_offline() {
    let app = spawn_app().await;
    let res = app.get("/docs/").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "{html}");
    let init = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    let css = app.get("/docs/swagger-ui.css").await;
    assert_eq!(css.status(), 200, "assets are vendored in the binary");
}

#[tokio::test]
async fn metrics_count_requests_cache_and_upstream_calls() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(5), |c| {
        c.feed_ttl = std::time::Duration::from_millis(200);
    })
    .await;
    app.get_feed().await;
    app.get_feed().await;
    app.get("/nope/17900000000000001").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = res.text().await.unwrap();
    let get = |k: &str| metric(&text, k).unwrap_or_else(|| panic!("{k} missing in:\n{text}"));
    assert_eq!(
        get(r#"igfeed_http_requests_total{route="/feed",method="GET",status="200"}"#),
        2.0
    );
    assert_eq!(
        get(r#"igfeed_http_requests_total{route="unmatched",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(
        get(r#"igfeed_http_request_duration_seconds_count{route="/feed"}"#),
        2.0
    );
    assert_eq!(
        get(r#"igfeed_feed_cache_lookups_total{result="miss"}"#),
        1.0
    );
    assert_eq!(get(r#"igfeed_feed_cache_lookups_total{result="hit"}"#), 1.0);
    assert_eq!(
        get(r#"igfeed_upstream_requests_total{call="media",outcome="ok",code="none"}"#),
        1.0
    );
    assert_eq!(
        get(r#"igfeed_upstream_requests_total{call="me",outcome="ok",code="none"}"#),
        1.0
    );
    assert_eq!(get(r#"igfeed_feed_stale{account="default"}"#), 0.0);
    assert!(get(r#"igfeed_feed_age_seconds{account="default"}"#) < 60.0);
    assert!(!text.contains("17900000000000001"), "no raw ids in labels");
    // The media cache's size shows once something is cached.
    app.get("/media/1790000000000005").await;
    let text2 = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metric(&text2, "igfeed_media_cache_bytes").unwrap() > 0.0,
        "{text2}"
    );
    assert!(
        metric(&text2, r#"igfeed_media_cache_lookups_total{result="hit"}"#).is_some()
            || metric(&text2, r#"igfeed_media_cache_lookups_total{result="miss"}"#).is_some()
    );

    // Instagram's error code shows, and the stale flag follows.
    app.fake.fail_always(
        Route::MediaList,
        Fault::GraphError {
            status: 403,
            code: 4,
            message: "slow down".into(),
        },
    );
    eventually(std::time::Duration::from_secs(10), "stale", || async {
        (app.get_feed().await["stale"] == true).then_some(())
    })
    .await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metric(
            &text,
            r#"igfeed_upstream_requests_total{call="media",outcome="throttled",code="4"}"#
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, r#"igfeed_feed_stale{account="default"}"#),
        Some(1.0)
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_and_logged() {
    let (logs, _guard) = capture_logs();
    let app = spawn_app().await;
    let res = app
        .get_with("/healthz", &[("x-request-id", "req-abc-123")])
        .await;
    assert_eq!(res.headers()["x-request-id"], "req-abc-123");
    let res = app.get("/feed").await;
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let logs = logs.text();
    let served: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("request served"))
        .collect();
    assert_eq!(served.len(), 2, "{served:?}");
    assert!(
        served[0].contains("INFO")
            && served[0].contains("req-abc-123")
            && served[0].contains("/healthz"),
        "{}",
        served[0]
    );
    assert!(
        served[1].contains(&generated)
            && served[1].contains("status=200")
            && served[1].contains("latency_ms"),
        "{}",
        served[1]
    );
}

#[tokio::test]
async fn served_spec_shows_this_servers_feed_size() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.feed_size = 80
    })
    .await;
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let params = spec["paths"]["/feed"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["maximum"], 80);
}
