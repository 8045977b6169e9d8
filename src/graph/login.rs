//! Instagram Login (the "Instagram API with Instagram Login" OAuth flow):
//! the authorize URL people are sent to, the exchange of the code they come
//! back with for a short-lived token (`POST {IGFEED_OAUTH_API_URL}/oauth/access_token`),
//! and of that for a long-lived one (`GET {IGFEED_GRAPH_URL}/access_token`).
//!
//! The app secret, the code and both tokens are secrets: they are scrubbed
//! from every error message, and no URL (which carries them) is ever put in
//! an error or a log line.

use url::Url;

use super::error::{BodyError, read_capped};
use super::{GraphClient, GraphError, MAX_BODY_BYTES, RefreshedToken, describe, redact, wire};
use crate::config::Secret;

/// The permission asked for: read the account's profile and media.
pub const SCOPE: &str = "instagram_business_basic";

/// What Instagram appends to the code in its redirect (not part of it).
const CODE_SUFFIX: &str = "#_";

/// The Instagram app igfeed connects accounts with, and where it lives.
#[derive(Clone)]
pub struct LoginApp {
    pub app_id: String,
    pub app_secret: Secret,
    /// `{IGFEED_PUBLIC_URL}/admin/oauth/callback`, registered with the app.
    pub redirect_uri: String,
    /// `IGFEED_OAUTH_URL` (`https://www.instagram.com`).
    pub authorize_base: Url,
    /// `IGFEED_OAUTH_API_URL` (`https://api.instagram.com`).
    pub api_base: Url,
}

impl std::fmt::Debug for LoginApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginApp")
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A short-lived token from the code exchange (valid about an hour).
pub struct ShortLivedToken {
    pub access_token: Secret,
    /// The Instagram user it belongs to, when Instagram said.
    pub user_id: Option<String>,
}

impl std::fmt::Debug for ShortLivedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortLivedToken")
            .field("access_token", &self.access_token)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// `path` under `base`, whatever path `base` already has.
fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    {
        let mut segs = url.path_segments_mut().expect("http base URL has a path");
        segs.pop_if_empty();
        for seg in path.split('/') {
            segs.push(seg);
        }
    }
    url
}

/// The code as Instagram meant it: without the `#_` its redirect appends.
pub fn clean_code(code: &str) -> &str {
    let code = code.trim();
    code.strip_suffix(CODE_SUFFIX).unwrap_or(code)
}

impl LoginApp {
    /// Where to send a person to authorize the app, carrying `state`.
    pub fn authorize_url(&self, state: &str) -> Url {
        let mut url = join(&self.authorize_base, "oauth/authorize");
        url.query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPE)
            .append_pair("state", state);
        url
    }

    /// `text` without any of this app's secrets or `also`.
    fn scrub(&self, text: &str, also: &[&Secret]) -> String {
        let mut text = redact(text, &self.app_secret);
        for s in also {
            text = redact(&text, s);
        }
        text
    }
}

impl GraphClient {
    /// Exchanges an authorization `code` (its `#_` already stripped) for a
    /// short-lived token. Both answer shapes of the API are accepted: the
    /// flat `{"access_token","user_id"}` and `{"data":[{…}]}`.
    pub async fn exchange_code(
        &self,
        app: &LoginApp,
        code: &str,
    ) -> Result<ShortLivedToken, GraphError> {
        let code_secret = Secret::new(code);
        let scrub = |s: String| app.scrub(&s, &[&code_secret]);
        let result = async {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", &app.app_id)
                .append_pair("client_secret", app.app_secret.expose())
                .append_pair("grant_type", "authorization_code")
                .append_pair("redirect_uri", &app.redirect_uri)
                .append_pair("code", code)
                .finish();
            let _permit = self
                .limit
                .acquire()
                .await
                .map_err(|_| GraphError::Transient("shutting down".into()))?;
            let res = self
                .http
                .post(join(&app.api_base, "oauth/access_token"))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
                .send()
                .await
                .map_err(|e| GraphError::Transient(scrub(describe(&e))))?;
            let status = res.status().as_u16();
            let body = read_capped(res, MAX_BODY_BYTES)
                .await
                .map_err(|e| match e {
                    BodyError::TooLarge => GraphError::BadResponse(format!(
                        "answer larger than {MAX_BODY_BYTES} bytes"
                    )),
                    BodyError::Read(e) => GraphError::Transient(scrub(e)),
                })?;
            decode_code_answer(status, &body)
        }
        .await
        .map_err(|e| scrub_error(e, &scrub));
        if let Some(m) = &self.metrics {
            match &result {
                Ok(_) => m.upstream("oauth_code", "ok", None),
                Err(e) => m.upstream("oauth_code", e.kind(), e.code()),
            }
        }
        result
    }

    /// Exchanges a short-lived token for a long-lived one (about 60 days;
    /// `expires_in` says exactly).
    pub async fn exchange_for_long_lived(
        &self,
        app: &LoginApp,
        short: &Secret,
    ) -> Result<RefreshedToken, GraphError> {
        let url = self.url(
            false,
            "access_token",
            &[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", app.app_secret.expose()),
            ],
            short,
        );
        let scrub = |s: String| app.scrub(&s, &[short]);
        let t: wire::WireToken = self
            .get_json("oauth_exchange", url, short)
            .await
            .map_err(|e| scrub_error(e, &scrub))?;
        t.checked("the long-lived token answer")
    }
}

/// `e` with `scrub` applied to its message.
fn scrub_error(e: GraphError, scrub: &impl Fn(String) -> String) -> GraphError {
    match e {
        GraphError::TokenInvalid { code, message } => GraphError::TokenInvalid {
            code,
            message: scrub(message),
        },
        GraphError::Throttled { code, message } => GraphError::Throttled {
            code,
            message: scrub(message),
        },
        GraphError::BadRequest { code, message } => GraphError::BadRequest {
            code,
            message: scrub(message),
        },
        GraphError::Transient(m) => GraphError::Transient(scrub(m)),
        GraphError::BadResponse(m) => GraphError::BadResponse(scrub(m)),
    }
}

/// One answer of the code exchange: a token, api.instagram.com's error
/// shape (`error_type`, `code`, `error_message`: the code was used, has
/// expired, the redirect URI or secret is wrong…), or Graph's envelope.
pub fn decode_code_answer(status: u16, body: &[u8]) -> Result<ShortLivedToken, GraphError> {
    if let Ok(err) = serde_json::from_slice::<wire::LoginError>(body) {
        let kind = err.error_type.unwrap_or_else(|| "error".into());
        return Err(GraphError::BadRequest {
            code: err.code.unwrap_or(i64::from(status)),
            message: format!("{kind}: {}", err.error_message),
        });
    }
    let answer: wire::CodeAnswer = super::decode_answer(status, body, &Secret::new(""))?;
    let token = answer
        .into_token()
        .filter(|t| !t.access_token.trim().is_empty())
        .ok_or_else(|| GraphError::BadResponse("no access_token in the code answer".into()))?;
    Ok(ShortLivedToken {
        access_token: Secret::new(token.access_token),
        user_id: token.user_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> LoginApp {
        LoginApp {
            app_id: "990602627938098".into(),
            app_secret: Secret::new("s3cr3t"),
            redirect_uri: "https://feeds.example.com/admin/oauth/callback".into(),
            authorize_base: Url::parse("https://www.instagram.com").unwrap(),
            api_base: Url::parse("https://api.instagram.com").unwrap(),
        }
    }

    #[test]
    fn the_authorize_url_carries_what_instagram_documents() {
        let url = app().authorize_url("st4te");
        assert_eq!(
            url.as_str(),
            "https://www.instagram.com/oauth/authorize?client_id=990602627938098\
             &redirect_uri=https%3A%2F%2Ffeeds.example.com%2Fadmin%2Foauth%2Fcallback\
             &response_type=code&scope=instagram_business_basic&state=st4te"
        );
        assert!(!format!("{:?}", app()).contains("s3cr3t"));
    }

    #[test]
    fn the_trailing_marker_is_not_part_of_the_code() {
        assert_eq!(clean_code("AQBx#_"), "AQBx");
        assert_eq!(clean_code("AQBx"), "AQBx");
        assert_eq!(clean_code(" AQBx#_ "), "AQBx");
    }

    #[test]
    fn both_answer_shapes_and_the_error_shape() {
        let flat = br#"{"access_token":"IGQshort","user_id":17841400000000000}"#;
        let t = decode_code_answer(200, flat).unwrap();
        assert_eq!(t.access_token.expose(), "IGQshort");
        assert_eq!(t.user_id.as_deref(), Some("17841400000000000"));
        let data = br#"{"data":[{"access_token":"IGQshort2","user_id":"42","permissions":"instagram_business_basic"}]}"#;
        let t = decode_code_answer(200, data).unwrap();
        assert_eq!(t.access_token.expose(), "IGQshort2");
        assert_eq!(t.user_id.as_deref(), Some("42"));
        let err = br#"{"error_type":"OAuthException","code":400,"error_message":"This authorization code has been used"}"#;
        let e = decode_code_answer(400, err).unwrap_err();
        assert!(
            e.to_string()
                .contains("OAuthException: This authorization code has been used"),
            "{e}"
        );
        let graph = br#"{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190,"fbtrace_id":"x"}}"#;
        assert!(matches!(
            decode_code_answer(400, graph),
            Err(GraphError::TokenInvalid { .. })
        ));
        assert!(matches!(
            decode_code_answer(200, b"{\"data\":[]}"),
            Err(GraphError::BadResponse(_))
        ));
        assert!(matches!(
            decode_code_answer(502, b"<html>"),
            Err(GraphError::Transient(_))
        ));
    }
}
