//! The fake's Instagram Login: the authorize page and its Allow / Deny
//! decisions, the code exchange (its checks, both answer shapes, single-use
//! codes, api.instagram.com's error shape) and the long-lived exchange.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its location"
)]

use igfeed_fake::{
    FakeAccountId, FakeInstagram, FakeOptions, Route, sample_media, sample_media_for,
};
use serde_json::Value;

const REDIRECT: &str = "https://feeds.example.com/admin/oauth/callback";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn authorize_params<'a>(opts: &'a FakeOptions, state: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", opts.app_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "instagram_business_basic"),
        ("state", state),
    ]
}

/// Posts the decision on the authorize page; the `Location` it redirects to.
async fn decide(fake: &FakeInstagram, opts: &FakeOptions, decision: &str, state: &str) -> String {
    let mut form = authorize_params(opts, state);
    form.push(("decision", decision));
    let res = client()
        .post(format!("{}/oauth/authorize", fake.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&form))
        .send()
        .await
        .expect("decision");
    assert_eq!(res.status(), 303);
    res.headers()["location"].to_str().unwrap().to_string()
}

/// The code in a redirect back to the app.
fn code_of(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code")
}

async fn exchange_code(fake: &FakeInstagram, pairs: &[(&str, &str)]) -> (u16, Value) {
    let res = client()
        .post(format!("{}/oauth/access_token", fake.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(pairs))
        .send()
        .await
        .expect("exchange");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn code_form<'a>(opts: &'a FakeOptions, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", opts.app_id.as_str()),
        ("client_secret", opts.app_secret.as_str()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT),
        ("code", code),
    ]
}

async fn long_lived(fake: &FakeInstagram, secret: &str, short: &str) -> (u16, Value) {
    let url = format!(
        "{}/access_token?{}",
        fake.base_url(),
        encode(&[
            ("grant_type", "ig_exchange_token"),
            ("client_secret", secret),
            ("access_token", short),
        ])
    );
    let res = client().get(url).send().await.expect("long-lived");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn allow_gives_a_single_use_code_then_a_short_then_a_long_lived_token() {
    let opts = FakeOptions::default();
    let fake = FakeInstagram::start(opts.clone(), sample_media(2))
        .await
        .unwrap();
    // The consent page names the account and offers both buttons.
    let page = client()
        .get(format!(
            "{}/oauth/authorize?{}",
            fake.base_url(),
            encode(&authorize_params(&opts, "s1"))
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("@example") && html.contains(">Allow<") && html.contains(">Deny<"));

    let location = decide(&fake, &opts, "allow", "s1").await;
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(
        location.ends_with("&state=s1#_"),
        "Instagram appends #_: {location}"
    );
    let code = code_of(&location);

    // The code with Instagram's marker is not the code.
    let marked = format!("{code}#_");
    let (status, body) = exchange_code(&fake, &code_form(&opts, &marked)).await;
    assert_eq!(
        (status, body["error_message"].as_str()),
        (400, Some("Invalid authorization code"))
    );
    assert_eq!(body["error_type"], "OAuthException");

    let (status, body) = exchange_code(&fake, &code_form(&opts, &code)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["user_id"],
        serde_json::json!(17841400000000000u64),
        "a JSON number"
    );
    let short = body["access_token"].as_str().unwrap().to_string();
    assert!(fake.token_is_valid(&short));
    // Single use.
    let (status, body) = exchange_code(&fake, &code_form(&opts, &code)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_message"],
        "This authorization code has been used"
    );

    // The short-lived token cannot be refreshed, only exchanged.
    let refresh = client()
        .get(format!(
            "{}/refresh_access_token?grant_type=ig_refresh_token&access_token={short}",
            fake.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400);
    let (status, body) = long_lived(&fake, "wrong-secret", &short).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Error validating client secret.");
    let (status, body) = long_lived(&fake, &opts.app_secret, &short).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], opts.token_lifetime.as_secs());
    let long = body["access_token"].as_str().unwrap();
    assert_eq!(fake.token_account(long), Some(FakeAccountId::MAIN));
    // A long-lived token is not exchanged again.
    let (status, _) = long_lived(&fake, &opts.app_secret, long).await;
    assert_eq!(status, 400);
    assert_eq!(fake.calls(Route::OAuthAuthorize), 2);
    assert_eq!(fake.calls(Route::OAuthToken), 3);
    assert_eq!(fake.calls(Route::TokenExchange), 3);
}

#[tokio::test]
async fn deny_redirects_with_instagrams_error_and_the_state() {
    let opts = FakeOptions::default();
    let fake = FakeInstagram::start(opts.clone(), sample_media(1))
        .await
        .unwrap();
    let location = decide(&fake, &opts, "deny", "s2").await;
    assert_eq!(
        location,
        format!(
            "{REDIRECT}?error=access_denied&error_reason=user_denied&error_description=The+user+denied+your+request.&state=s2"
        )
    );
}

#[tokio::test]
async fn the_app_the_redirect_uri_and_the_grant_are_checked() {
    let opts = FakeOptions::default();
    let fake = FakeInstagram::start(opts.clone(), sample_media(1))
        .await
        .unwrap();
    // A wrong app id: an error page, no way back to the app.
    let wrong = FakeOptions {
        app_id: "1".into(),
        ..opts.clone()
    };
    let res = client()
        .get(format!(
            "{}/oauth/authorize?{}",
            fake.base_url(),
            encode(&authorize_params(&wrong, "s"))
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let code = code_of(&decide(&fake, &opts, "allow", "s").await);
    let mut bad_secret = code_form(&opts, &code);
    bad_secret[1].1 = "nope";
    let (status, body) = exchange_code(&fake, &bad_secret).await;
    assert_eq!(
        (status, body["error_message"].as_str()),
        (400, Some("Error validating client secret."))
    );
    let mut other_redirect = code_form(&opts, &code);
    other_redirect[3].1 = "https://evil.example/cb";
    let (status, body) = exchange_code(&fake, &other_redirect).await;
    assert_eq!(status, 400);
    assert!(
        body["error_message"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );
    let mut grant = code_form(&opts, &code);
    grant[2].1 = "client_credentials";
    assert_eq!(exchange_code(&fake, &grant).await.0, 400);
    // None of those used the code up.
    assert_eq!(exchange_code(&fake, &code_form(&opts, &code)).await.0, 200);
}

#[tokio::test]
async fn the_data_shape_and_the_granted_account_are_options() {
    let fake = FakeInstagram::start(FakeOptions::default(), sample_media(1))
        .await
        .unwrap();
    let second = fake.add_account("second", "17841400000000002", sample_media_for(1, 2));
    fake.configure(|o| {
        o.oauth_data_shape = true;
        o.oauth_account = second;
        o.app_id = "42".into();
        o.app_secret = "other".into();
    });
    let opts = FakeOptions {
        app_id: "42".into(),
        app_secret: "other".into(),
        ..FakeOptions::default()
    };
    let code = code_of(&decide(&fake, &opts, "allow", "s").await);
    let (status, body) = exchange_code(&fake, &code_form(&opts, &code)).await;
    assert_eq!(status, 200, "{body}");
    let entry = &body["data"][0];
    assert_eq!(entry["user_id"], serde_json::json!(17841400000000002u64));
    assert_eq!(entry["permissions"], "instagram_business_basic");
    let short = entry["access_token"].as_str().unwrap();
    assert_eq!(fake.token_account(short), Some(second));
}
