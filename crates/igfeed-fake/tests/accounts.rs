//! The fake with several accounts, its in-flight gauge and its `/_fake`
//! controls, seen over HTTP the way igfeed and the scripts see them.

use std::time::{Duration, Instant};

use igfeed_fake::{
    FakeAccountId, FakeInstagram, FakeOptions, Route, sample_media, sample_media_for,
    sample_media_like,
};
use serde_json::Value;

const V: &str = "v25.0";

async fn get(url: &str) -> (u16, Value) {
    let res = reqwest::get(url).await.expect("request");
    let status = res.status().as_u16();
    let body = res.text().await.expect("body");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn me_url(fake: &FakeInstagram, token: &str) -> String {
    format!("{}/{V}/me?access_token={token}", fake.base_url())
}

fn media_list_url(fake: &FakeInstagram, token: &str) -> String {
    format!(
        "{}/{V}/me/media?fields=id,media_url&limit=100&access_token={token}",
        fake.base_url()
    )
}

fn media_urls_url(fake: &FakeInstagram, id: &str, token: &str) -> String {
    format!(
        "{}/{V}/{id}?fields=media_url,thumbnail_url&access_token={token}",
        fake.base_url()
    )
}

fn ids(media: &[igfeed_fake::FakeMedia]) -> Vec<String> {
    media.iter().map(|m| m.id.clone()).collect()
}

/// The main account with 3 posts and a second one with 4 of its own.
async fn two_accounts() -> (FakeInstagram, FakeAccountId) {
    let fake = FakeInstagram::start(FakeOptions::default(), sample_media(3))
        .await
        .expect("fake starts");
    let second = fake.add_account("second", "17841400000000002", sample_media_for(1, 4));
    (fake, second)
}

#[tokio::test]
async fn each_token_sees_its_own_account() {
    let (fake, second) = two_accounts().await;
    assert_eq!(second, FakeAccountId(1));
    assert_eq!(fake.accounts(), vec![FakeAccountId::MAIN, second]);
    let a = fake.issue_token();
    let b = fake.issue_token_for(second);
    assert_eq!(fake.token_account(&a), Some(FakeAccountId::MAIN));
    assert_eq!(fake.token_account(&b), Some(second));

    let (status, me_a) = get(&me_url(&fake, &a)).await;
    assert_eq!(status, 200);
    assert_eq!(me_a["username"], "example");
    assert_eq!(me_a["user_id"], "17841400000000000");
    assert_eq!(me_a["id"], "26000000000000000");
    assert_eq!(me_a["media_count"], 3);
    let (status, me_b) = get(&me_url(&fake, &b)).await;
    assert_eq!(status, 200);
    assert_eq!(me_b["username"], "second");
    assert_eq!(me_b["user_id"], "17841400000000002");
    assert_eq!(me_b["media_count"], 4);
    assert_ne!(me_b["id"], me_a["id"]);

    for (token, account, username) in [(&a, FakeAccountId::MAIN, "example"), (&b, second, "second")]
    {
        let (status, page) = get(&media_list_url(&fake, token)).await;
        assert_eq!(status, 200);
        let listed: Vec<String> = page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(listed, ids(&fake.media_of(account)));
        assert!(
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .all(|m| m["username"] == username)
        );
        // The one CDN serves every account's media.
        let url = page["data"][0]["media_url"].as_str().expect("media_url");
        assert_eq!(reqwest::get(url).await.expect("cdn").status(), 200);
    }
    assert_eq!(ids(&fake.media()), ids(&fake.media_of(FakeAccountId::MAIN)));
    assert_eq!(fake.calls(Route::Me), 2);
    assert_eq!(fake.calls_by(Route::Me, FakeAccountId::MAIN), 1);
    assert_eq!(fake.calls_by(Route::Me, second), 1);
    assert_eq!(fake.calls(Route::Cdn), 2);
    assert_eq!(fake.calls_by(Route::Cdn, second), 1);
}

#[tokio::test]
async fn another_accounts_media_does_not_exist_for_a_token() {
    let (fake, second) = two_accounts().await;
    let a = fake.issue_token();
    let b = fake.issue_token_for(second);
    let theirs = fake.media_of(second)[0].id.clone();
    let mine = fake.media()[0].id.clone();

    let (status, own) = get(&media_urls_url(&fake, &theirs, &b)).await;
    assert_eq!(status, 200);
    assert!(own["media_url"].is_string());
    let (status, own) = get(&media_urls_url(&fake, &mine, &a)).await;
    assert_eq!(status, 200);
    assert!(own["media_url"].is_string());

    for (id, token) in [
        (&theirs, &a),
        (&mine, &b),
        (&"1790000000000000".to_string(), &a),
    ] {
        let (status, err) = get(&media_urls_url(&fake, id, token)).await;
        assert_eq!(status, 400, "{id}");
        let err = &err["error"];
        assert_eq!(err["code"], 100);
        assert_eq!(err["error_subcode"], 33);
        assert_eq!(err["type"], "GraphMethodException");
        assert_eq!(
            err["message"],
            format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
            )
        );
        assert!(err["fbtrace_id"].is_string());
    }
}

#[tokio::test]
async fn a_refreshed_token_stays_on_its_account() {
    let (fake, second) = two_accounts().await;
    let b = fake.issue_token_for(second);
    let (status, body) = get(&format!(
        "{}/refresh_access_token?grant_type=ig_refresh_token&access_token={b}",
        fake.base_url()
    ))
    .await;
    assert_eq!(status, 200);
    let new = body["access_token"].as_str().expect("token").to_string();
    assert_ne!(new, b);
    assert!(!fake.token_is_valid(&b));
    assert_eq!(fake.token_account(&new), Some(second));
    assert_eq!(fake.valid_tokens_of(second), vec![new.clone()]);
    let (_, me) = get(&me_url(&fake, &new)).await;
    assert_eq!(me["username"], "second");
    assert_eq!(fake.calls_by(Route::Refresh, second), 1);

    // Without rotation the same string is renewed, still on its account.
    fake.configure(|o| o.rotate_on_refresh = false);
    let (status, body) = get(&format!(
        "{}/refresh_access_token?grant_type=ig_refresh_token&access_token={new}",
        fake.base_url()
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["access_token"], new.as_str());
    assert_eq!(fake.token_account(&new), Some(second));
}

#[tokio::test]
async fn revoking_one_account_leaves_the_others() {
    let (fake, second) = two_accounts().await;
    let a = fake.issue_token();
    let b = fake.issue_token_for(second);
    let b_old = fake.issue_token_for_at(second, std::time::SystemTime::now());
    fake.revoke_account(FakeAccountId::MAIN);
    assert!(!fake.token_is_valid(&a));
    assert!(fake.token_is_valid(&b));
    assert!(fake.token_is_valid(&b_old));
    assert!(fake.valid_tokens_of(FakeAccountId::MAIN).is_empty());
    assert_eq!(fake.valid_tokens().len(), 2);
    let (status, err) = get(&me_url(&fake, &a)).await;
    assert_eq!((status, err["error"]["code"].clone()), (400, 190.into()));
    let (status, _) = get(&me_url(&fake, &b)).await;
    assert_eq!(status, 200);

    fake.revoke_account(second);
    assert!(fake.valid_tokens().is_empty());
}

#[tokio::test]
async fn media_of_one_account_changes_alone() {
    let (fake, second) = two_accounts().await;
    let main_before = ids(&fake.media());
    let extra = sample_media_for(2, 1).remove(0);
    fake.publish_to(second, extra.clone());
    assert_eq!(fake.media_of(second).len(), 5);
    assert_eq!(fake.media_of(second)[0].id, extra.id);
    assert_eq!(ids(&fake.media()), main_before);

    // Replacing the second account's posts drops their CDN bytes only.
    let gone = fake.media_of(second)[1].id.clone();
    let kept = fake.media()[0].id.clone();
    assert!(fake.asset(&format!("{gone}_n.jpg")).is_some());
    fake.set_media_of(second, Vec::new());
    assert!(fake.asset(&format!("{gone}_n.jpg")).is_none());
    assert!(fake.asset(&format!("{kept}_n.jpg")).is_some());
    let b = fake.issue_token_for(second);
    let (_, me) = get(&me_url(&fake, &b)).await;
    assert_eq!(me["media_count"], 0);
}

#[test]
fn sample_media_ids_differ_across_seeds() {
    let mut all = std::collections::HashSet::new();
    let mut count = 0;
    let every = |media: Vec<igfeed_fake::FakeMedia>| {
        media
            .into_iter()
            .flat_map(|m| {
                let mut ids = vec![m.id.clone()];
                ids.extend(m.children.iter().map(|c| c.id.clone()));
                ids
            })
            .collect::<Vec<_>>()
    };
    for media in [
        sample_media(30),
        sample_media_for(1, 30),
        sample_media_for(2, 30),
        sample_media_for(999, 30),
    ] {
        for id in every(media) {
            assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
            assert_eq!(id.len(), 16, "{id}");
            all.insert(id);
            count += 1;
        }
    }
    assert_eq!(all.len(), count);
    // The same posts, only the ids differ.
    let (a, b) = (sample_media(7), sample_media_for(3, 7));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.media_type, &x.caption), (&y.media_type, &y.caption));
    }
}

#[test]
fn sample_media_like_shares_bytes_under_seeded_ids() {
    let template = sample_media(12);
    let like = sample_media_like(4, &template);
    let seeded = sample_media_for(4, 12);
    assert_eq!(ids(&like), ids(&seeded));
    for ((t, l), s) in template.iter().zip(&like).zip(&seeded) {
        assert_eq!(l.permalink, s.permalink);
        assert_eq!(l.content, t.content);
        assert_eq!(l.thumbnail, t.thumbnail);
        let child_ids = |m: &igfeed_fake::FakeMedia| -> Vec<String> {
            m.children.iter().map(|c| c.id.clone()).collect()
        };
        assert_eq!(child_ids(l), child_ids(s));
        for (tc, lc) in t.children.iter().zip(&l.children) {
            assert_eq!(tc.content, lc.content);
        }
    }
}

/// Polls until `cond` holds, for at most 5 s.
async fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

#[tokio::test]
async fn concurrent_delayed_requests_make_the_peak() {
    let opts = FakeOptions {
        latency: Duration::from_millis(400),
        ..FakeOptions::default()
    };
    let fake = FakeInstagram::start(opts, sample_media(3))
        .await
        .expect("fake starts");
    let token = fake.issue_token();
    let cdn = fake.cdn_url(&format!("{}_n.jpg", fake.media()[0].id));
    let mut urls: Vec<String> = (0..5).map(|_| me_url(&fake, &token)).collect();
    urls.extend((0..5).map(|_| cdn.clone()));
    assert_eq!(fake.peak_in_flight(), 0);

    let started = Instant::now();
    let client = reqwest::Client::new();
    let requests = urls.into_iter().map(|u| {
        let client = client.clone();
        async move { client.get(u).send().await.expect("answer").status() }
    });
    let all = tokio::spawn(futures_util::future::join_all(requests));
    assert!(eventually(|| fake.in_flight() == 10).await);
    let statuses = all.await.expect("joined");
    assert!(statuses.iter().all(|s| s.as_u16() == 200), "{statuses:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(fake.peak_in_flight(), 10);
    assert!(eventually(|| fake.in_flight() == 0).await);
    assert_eq!(fake.peak_in_flight(), 10);

    fake.reset_peak();
    assert_eq!(fake.peak_in_flight(), 0);
    fake.configure(|o| o.latency = Duration::ZERO);
    let (status, _) = get(&me_url(&fake, &token)).await;
    assert_eq!(status, 200);
    assert_eq!(fake.peak_in_flight(), 1);
    assert_eq!(fake.in_flight(), 0);
}

#[tokio::test]
async fn faults_are_in_flight_too() {
    let opts = FakeOptions {
        latency: Duration::from_millis(300),
        ..FakeOptions::default()
    };
    let fake = FakeInstagram::start(opts, sample_media(1))
        .await
        .expect("fake starts");
    fake.fail(Route::Me, igfeed_fake::Fault::Status(503), 3);
    let token = fake.issue_token();
    let url = me_url(&fake, &token);
    let answers = futures_util::future::join_all((0..3).map(|_| get(&url))).await;
    assert!(answers.iter().all(|(s, _)| *s == 503));
    assert_eq!(fake.peak_in_flight(), 3);
    assert_eq!(fake.in_flight(), 0);
}

#[tokio::test]
async fn stats_endpoint_reports_calls_and_peak() {
    let (fake, second) = two_accounts().await;
    let b = fake.issue_token_for(second);
    let base = fake.base_url();
    get(&me_url(&fake, &b)).await;
    get(&media_list_url(&fake, &b)).await;
    get(&media_list_url(&fake, "not-a-token")).await;

    let (status, stats) = get(&format!("{base}/_fake/stats")).await;
    assert_eq!(status, 200);
    assert_eq!(
        stats,
        serde_json::json!({
            "in_flight": 0,
            "peak_in_flight": 1,
            "calls": {"me": 1, "media_list": 2, "media_urls": 0, "refresh": 0, "cdn": 0},
        })
    );
    // Asking for the stats is no call and never in flight.
    let (_, again) = get(&format!("{base}/_fake/stats")).await;
    assert_eq!(again, stats);
    assert_eq!(fake.calls(Route::Me), 1);
    assert_eq!(fake.calls_by(Route::MediaList, second), 1);

    let client = reqwest::Client::new();
    let reset = client
        .post(format!("{base}/_fake/reset_peak"))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 204);
    assert_eq!(fake.peak_in_flight(), 0);
    let (_, after) = get(&format!("{base}/_fake/stats")).await;
    assert_eq!(after["peak_in_flight"], 0);
    assert_eq!(after["calls"]["media_list"], 2);

    let wrong = client
        .get(format!("{base}/_fake/reset_peak"))
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 405);
    let (status, _) = get(&format!("{base}/_fake/nothing")).await;
    assert_eq!(status, 404);
    assert_eq!(fake.peak_in_flight(), 0);
}
