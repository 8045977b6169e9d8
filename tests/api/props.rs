//! Property tests: the query parser and the Graph answer decoder take any
//! input without panicking, and never let the token into an error.

use igfeed::config::Secret;
use igfeed::graph::{decode_answer, decode_media_page};
use igfeed::routes::feed::parse_filter;
use proptest::prelude::*;

const TOKEN: &str = "IGAAsecretTOKENvalue123";

fn query_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("limit".to_string()),
        Just("type".to_string()),
        Just("IMAGE".to_string()),
        Just("VIDEO,CAROUSEL_ALBUM".to_string()),
        Just("%".to_string()),
        Just("%zz".to_string()),
        Just("%00".to_string()),
        Just("=".to_string()),
        Just("&".to_string()),
        Just(",".to_string()),
        "[0-9]{1,25}",
        "-?[0-9]{1,3}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn query_parsing_never_panics_and_keeps_its_promises(
        pieces in prop::collection::vec(query_piece(), 0..12),
        size in 1usize..=200,
    ) {
        let query: String = pieces.concat();
        if let Ok(filter) = parse_filter(&query, size) {
            if let Some(limit) = filter.limit {
                prop_assert!((1..=size).contains(&limit));
            }
            for t in &filter.types {
                prop_assert!(["IMAGE", "VIDEO", "CAROUSEL_ALBUM"].contains(&t.as_str()));
            }
        }
    }

    #[test]
    fn graph_decoding_never_panics_or_leaks(
        status in prop_oneof![Just(200u16), Just(400), Just(403), Just(429), Just(500), 100u16..600],
        body in prop_oneof![
            any::<Vec<u8>>(),
            any::<String>().prop_map(|s| s.into_bytes()),
            (any::<i64>(), any::<String>()).prop_map(|(code, m)| serde_json::json!({"error": {"message": format!("{m} {TOKEN}"), "code": code}}).to_string().into_bytes()),
            any::<String>().prop_map(|s| format!(r#"{{"data":[{{"id":"1","caption":{}}}],"paging":{{"next":"{s}"}}}}"#, serde_json::Value::String(s.clone())).into_bytes()),
            Just(br#"{"data":[{"id":17,"media_type":"IMAGE","children":{"data":[{"id":"2"}]}}]}"#.to_vec()),
            Just(br#"{"data":"nope"}"#.to_vec()),
        ],
    ) {
        let token = Secret::new(TOKEN);
        match decode_media_page(status, &body, &token) {
            Ok(_) => prop_assert!((200..300).contains(&status), "only a 2xx answer decodes"),
            Err(e) => prop_assert!(!e.to_string().contains(TOKEN), "token in {e}"),
        }
        if let Err(e) = decode_answer::<serde_json::Value>(status, &body, &token) {
            prop_assert!(!e.to_string().contains(TOKEN));
        }
    }
}

#[test]
fn graph_answers_decode_as_instagram_documents() {
    let token = Secret::new(TOKEN);
    // Numeric ids are accepted, children come from `children.data`.
    let media = decode_media_page(
        200,
        br#"{"data":[{"id":17,"media_type":"CAROUSEL_ALBUM","children":{"data":[{"id":"2","media_type":"VIDEO"}]}}]}"#,
        &token,
    )
    .unwrap();
    assert_eq!(media[0].id, "17");
    assert_eq!(
        media[0].children.as_ref().unwrap()[0].media_type,
        igfeed::graph::MediaType::Video
    );
    // Throttling comes with any status and is classified by code.
    for status in [400, 403, 429] {
        let e = decode_media_page(status, br#"{"error":{"message":"x","code":4}}"#, &token)
            .unwrap_err();
        assert_eq!(e.kind(), "throttled");
    }
    let e = decode_media_page(200, b"<html>", &token).unwrap_err();
    assert_eq!(e.kind(), "bad_response");
    let e = decode_media_page(502, b"<html>", &token).unwrap_err();
    assert_eq!(e.kind(), "transient");
}
